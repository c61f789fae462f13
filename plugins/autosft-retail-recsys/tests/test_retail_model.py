"""The ``next_item_transformer``: pre-trained once and cached, masks already-bought items where
asked, and trains in full, freeze and LoRA modes through the real engine."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
import torch
from autosft_retail_recsys.model import MASKED_SCORE, NextItemBuilder, NextItemOptions
from retail_helpers import log_options

from autosft.config import parse_study
from autosft.contracts import TrialPlan
from autosft.engine.device import pick_device
from autosft.engine.loop import train
from autosft.engine.pretrained import cache_root, clear_memory_cache
from autosft.engine.trial import training_job
from autosft.plugins import get_plugin_manager
from autosft.search.prepare import PreparedStudy, prepare_study

CPU = pick_device("cpu")
MODEL = {"dim": 16, "blocks": 2, "heads": 2, "pretrain_epochs": 1}
PLAN = TrialPlan(
    learning_rate=3e-3, batch_size=32, epochs=1, warmup_ratio=0.0, weight_decay=0.0, dropout=0.0,
    label_smoothing=0.0, patience=3, adaptation="full", seed=0,
)  # fmt: skip


def study(log_file: Path, **dataset: object) -> dict[str, object]:
    return {
        "name": "retail-test",
        "task": "ranking",
        "dataset": {"name": "interactions", "options": log_options(log_file, **dataset)},
        "model": {"name": "next_item_transformer", "options": MODEL},
        "objective": {"metric": "ndcg@10"},
        "budget": {"n_trials": 2, "max_epochs": 2},
        "storage": "sqlite:///unused.db",
    }


@pytest.fixture
def prepared(log_file: Path) -> PreparedStudy:
    return prepare_study(parse_study(study(log_file), where="s"), get_plugin_manager())


def _weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in module.state_dict().items()}


def test_pretraining_runs_once_and_is_reused_from_the_file_cache(
    prepared: PreparedStudy, caplog: pytest.LogCaptureFixture
) -> None:
    builder, options, splits = prepared.builder, prepared.model_options, prepared.splits
    files = list((cache_root() / "next_item_transformer").glob("*.pt"))
    assert len(files) == 1  # prepare_study's probe build pre-trained and saved
    first = _weights(builder.build(options, splits, seed=0).module)
    clear_memory_cache()  # as a fresh worker process starts
    with caplog.at_level(logging.INFO):
        second = _weights(builder.build(options, splits, seed=0).module)
    assert "loaded pre-trained weights" in caplog.text and "pre-training on" not in caplog.text
    assert all(torch.equal(value, second[name]) for name, value in first.items())
    assert builder.build(options, splits, seed=0).pretrained


def test_held_out_rows_flagged_exclude_seen_never_rank_bought_items(log_file: Path) -> None:
    prepared = prepare_study(parse_study(study(log_file, exclude_seen=True), where="s"), get_plugin_manager())
    module = prepared.build_model(PLAN).module.eval()
    inputs = {name: torch.as_tensor(array) for name, array in prepared.splits.test.inputs.items()}
    with torch.no_grad():
        scores = module(**inputs)
        unmasked = module(inputs["items"])
    bought = torch.zeros_like(scores, dtype=torch.bool)
    for row, history in enumerate(inputs["items"]):
        bought[row, history[history > 0] - 1] = True
    assert torch.all(scores[bought] == MASKED_SCORE)
    assert torch.equal(scores[~bought], unmasked[~bought])


@pytest.mark.parametrize(
    ("changes", "frozen", "trained"),
    [
        ({"adaptation": "full"}, [], ["items.", "blocks.0.", "output."]),
        ({"adaptation": "freeze", "freeze_depth": 2}, ["items.", "positions.", "blocks.0."], ["blocks.1.", "output."]),
        ({"adaptation": "lora", "lora_targets": "attention", "lora_rank": 4, "lora_alpha": 8}, ["items."], ["lora_"]),
    ],
)
def test_full_freeze_and_lora_modes_train(
    prepared: PreparedStudy, changes: dict[str, object], frozen: list[str], trained: list[str]
) -> None:
    plan = dataclasses.replace(PLAN, **changes)  # type: ignore[arg-type]
    job = training_job(prepared, plan, CPU)
    before = _weights(job.built.module)
    result = train(job)
    # Under LoRA, peft prefixes every name; compare by the names of the original model.
    after = {name.removeprefix("base_model.model."): value for name, value in result.module.state_dict().items()}

    def changed(prefix: str) -> bool:
        names = [name for name in after if prefix in name]
        assert names, prefix
        return any(name not in before or not torch.equal(before[name], after[name]) for name in names)

    assert all(not changed(prefix) for prefix in frozen)
    assert all(changed(prefix) for prefix in trained)
    assert 0 <= result.result.metrics["ndcg@10"] <= 1


def test_a_sampled_objective_from_the_search_space_trains(prepared: PreparedStudy) -> None:
    dimensions = prepared.space.dimensions
    assert {"ranking_loss", "negatives", "augmentation"} <= set(dimensions) and "imbalance" not in dimensions
    assert set(dimensions["augmentation"].choices) == {"none", "sequence_crop", "item_mask", "sequence_reorder"}
    plan = dataclasses.replace(PLAN, extra={"ranking_loss": "sampled_softmax", "negatives": 8})
    job = training_job(prepared, plan, CPU)
    assert job.loss is not None
    history = train(job).result.history
    assert all(0 < epoch["train_loss"] < 10 for epoch in history)  # a softmax over 1 + 8 sampled items


def test_options_are_checked(prepared: PreparedStudy) -> None:
    with pytest.raises(Exception, match="dim % heads == 0"):
        NextItemBuilder().build(NextItemOptions(dim=18, heads=4), prepared.splits, seed=0)
