"""Sampled softmax and BPR losses, the search dimensions choosing them, and history augmentations."""

from __future__ import annotations

import pytest
import torch
from autosft_retail_recsys.augment import ItemMask, SequenceCrop, SequenceReorder
from autosft_retail_recsys.objectives import ranking_loss

from autosft.config import parse_study
from autosft.errors import ConfigError
from autosft.space import Condition, SearchSpace

CPU = torch.device("cpu")


def _targets(labels: torch.Tensor, items: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels, items).float()


@pytest.mark.parametrize("kind", ["sampled_softmax", "bpr"])
def test_sampled_losses_raise_the_held_out_item_above_the_drawn_ones(kind: str) -> None:
    scores = torch.zeros(4, 50, requires_grad=True)
    labels = torch.tensor([0, 7, 7, 49])
    loss_fn = ranking_loss(kind, negatives=16, seed=0, device=CPU)
    assert loss_fn is not None
    loss = loss_fn(scores, _targets(labels, 50))
    loss.backward()
    assert scores.grad is not None
    assert torch.all(scores.grad[torch.arange(4), labels] < 0)  # descent raises each positive's score
    others = scores.grad.clone()
    others[torch.arange(4), labels] = 0
    assert torch.all(others >= 0) and others.sum() > 0  # and lowers only (some) other items'


def test_a_drawn_held_out_item_is_not_a_negative() -> None:
    # With one item besides the positive, every draw is one of the two; draws of the positive are
    # ignored, so the loss equals the loss against the other item alone.
    scores = torch.tensor([[2.0, 0.5]])
    bpr = ranking_loss("bpr", negatives=64, seed=0, device=CPU)
    assert bpr is not None
    assert bpr(scores, _targets(torch.tensor([0]), 2)) == pytest.approx(
        -torch.nn.functional.logsigmoid(torch.tensor(1.5))
    )


def test_full_softmax_is_the_engine_default_and_bad_values_are_refused() -> None:
    assert ranking_loss("softmax", negatives=0, seed=0, device=CPU) is None
    with pytest.raises(ConfigError, match="unknown ranking_loss 'hinge'; valid: softmax, sampled_softmax, bpr"):
        ranking_loss("hinge", negatives=8, seed=0, device=CPU)


def test_the_objective_dimensions_are_added_for_this_model_only() -> None:
    from autosft_retail_recsys.objectives import add_objective_dimensions

    study = parse_study(
        {"name": "s", "task": "ranking", "dataset": {"name": "interactions", "options": {"path": "x.csv"}},
         "model": {"name": "next_item_transformer"}, "objective": {"metric": "ndcg@10"}},
        where="s",
    )  # fmt: skip
    space = SearchSpace()
    add_objective_dimensions(space, study)
    assert list(space.dimensions) == ["ranking_loss", "negatives"]
    assert space.dimensions["negatives"].condition == Condition("ranking_loss", ("sampled_softmax", "bpr"))
    other = study.model_copy(update={"model": study.model.model_copy(update={"name": "toy_mlp"})})
    empty = SearchSpace()
    add_objective_dimensions(empty, other)
    assert not empty.dimensions


HISTORIES = torch.tensor([[0, 0, 0, 5, 6, 7, 8, 9], [1, 2, 3, 4, 5, 6, 7, 8], [0, 0, 0, 0, 0, 0, 0, 4]])


@pytest.mark.parametrize("augmentation", [SequenceCrop(), ItemMask(), SequenceReorder()])
def test_augmentations_keep_the_newest_item_and_only_use_the_history(augmentation) -> None:  # type: ignore[no-untyped-def]
    inputs = {"items": HISTORIES, "exclude_seen": torch.zeros(3, dtype=torch.bool)}
    targets = torch.eye(10)[:3]
    same, same_targets = augmentation.apply(inputs, targets, strength=0.0, generator=torch.Generator().manual_seed(0))
    assert same is inputs and same_targets is targets
    changed_any = False
    for seed in range(20):
        out, out_targets = augmentation.apply(
            inputs, targets, strength=1.0, generator=torch.Generator().manual_seed(seed)
        )
        items = out["items"]
        assert out_targets is targets and out["exclude_seen"] is inputs["exclude_seen"]
        assert torch.equal(items[:, -1], HISTORIES[:, -1])
        for row, original in zip(items, HISTORIES, strict=True):
            assert set(row[row > 0].tolist()) <= set(original[original > 0].tolist())
        changed_any |= not torch.equal(items, HISTORIES)
    assert changed_any


def test_reorder_permutes_and_crop_cuts_the_oldest_items() -> None:
    generator = torch.Generator().manual_seed(1)
    reordered = SequenceReorder().transform(HISTORIES, 1.0, generator)
    for row, original in zip(reordered, HISTORIES, strict=True):
        assert sorted(row.tolist()) == sorted(original.tolist())
    cropped = SequenceCrop().transform(HISTORIES, 1.0, generator)
    for row, original in zip(cropped, HISTORIES, strict=True):
        kept = int((row > 0).sum())
        assert torch.equal(row[-kept:], original[-kept:]) and torch.all(row[:-kept] == 0)
