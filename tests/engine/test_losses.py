"""Losses over soft targets agree with torch's own where they overlap, and weight what they should."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from autosft.engine.losses import cross_entropy, focal, member_loss, soft_targets


def test_soft_targets_match_torch_label_smoothing() -> None:
    logits = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    targets = soft_targets(labels, task="multiclass", num_classes=3, smoothing=0.1)
    assert torch.allclose(targets.sum(dim=1), torch.ones(8))
    ours = cross_entropy(task="multiclass")(logits, targets)
    assert torch.allclose(ours, F.cross_entropy(logits, labels, label_smoothing=0.1))


def test_class_weights_scale_each_class() -> None:
    logits = torch.zeros(2, 2)
    targets = soft_targets(torch.tensor([0, 1]), task="binary", num_classes=2, smoothing=0.0)
    plain = cross_entropy(task="binary")(logits, targets)
    weighted = cross_entropy(task="binary", class_weights=torch.tensor([1.0, 3.0]))(logits, targets)
    assert torch.allclose(weighted, plain * 2)  # mean of weights 1 and 3


def test_focal_discounts_easy_rows() -> None:
    targets = soft_targets(torch.tensor([1]), task="binary", num_classes=2, smoothing=0.0)
    easy, hard = torch.tensor([[-4.0, 4.0]]), torch.tensor([[1.0, -1.0]])
    ce, fl = cross_entropy(task="binary"), focal(task="binary")
    assert fl(easy, targets) / ce(easy, targets) < 0.01
    assert fl(hard, targets) / ce(hard, targets) > 0.5


def test_multilabel_matches_binary_cross_entropy() -> None:
    logits = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 0]])
    targets = soft_targets(labels, task="multilabel", num_classes=3, smoothing=0.0)
    assert torch.allclose(cross_entropy(task="multilabel")(logits, targets),
                          F.binary_cross_entropy_with_logits(logits, labels.float()))  # fmt: skip


def test_ensemble_logits_score_every_member_on_the_rows_targets() -> None:
    members = torch.randn(5, 3, 2, generator=torch.Generator().manual_seed(0))  # (rows, members, classes)
    targets = soft_targets(torch.tensor([0, 1, 1, 0, 1]), task="binary", num_classes=2, smoothing=0.0)
    loss = cross_entropy(task="binary")
    each = torch.stack([loss(members[:, member], targets) for member in range(3)])
    assert torch.allclose(member_loss(loss, members, targets), each.mean())
    # not the loss of the members' mean: that would train them as one model
    assert not torch.allclose(member_loss(loss, members, targets), loss(members.mean(1), targets))
    assert torch.equal(member_loss(loss, members[:, 0], targets), loss(members[:, 0], targets))
