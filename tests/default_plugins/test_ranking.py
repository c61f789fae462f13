"""The ``ranking`` task: metrics against a hand-computed example, and a ranking study through the
real engine (no imbalance strategy offered, classification metrics refused, builder losses used)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from pydantic import BaseModel

from autosft.components import LossFunction, Splits
from autosft.config import parse_study
from autosft.contracts import TrialPlan
from autosft.default_plugins.ranking import METRICS, catalogue_coverage, hit_rate, ndcg, ranks
from autosft.engine.device import pick_device
from autosft.engine.loop import train
from autosft.engine.losses import cross_entropy
from autosft.engine.trial import training_job
from autosft.errors import ConfigError
from autosft.hookspecs import hookimpl
from autosft.search.prepare import prepare_study
from autosft.testing import ToyMLP, toy_manager, toy_study

CPU = pick_device("cpu")
PLAN = TrialPlan(
    learning_rate=1e-2, batch_size=32, epochs=2, warmup_ratio=0.0, weight_decay=0.0, dropout=0.0,
    label_smoothing=0.0, patience=5, adaptation="full", seed=0,
)  # fmt: skip

# Row 0: the held-out item 2 has one item above it (rank 1). Row 1: item 0 is first (rank 0).
# Row 2: all five items tie, so item 4's expected rank under random tie-breaking is 2.
SCORES = np.array([[0.1, 0.5, 0.3, 0.05, 0.05], [0.9, 0.02, 0.03, 0.03, 0.02], [0.2] * 5])
LABELS = np.array([2, 0, 4])


def test_metrics_match_a_hand_computed_example() -> None:
    assert ranks(LABELS, SCORES).tolist() == [1.0, 0.0, 2.0]
    assert [hit_rate(k)(LABELS, SCORES).mean() for k in (1, 2, 3)] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert ndcg(2)(LABELS, SCORES).mean() == pytest.approx((1 / math.log2(3) + 1) / 3)
    metric = {m.name: m for m in METRICS}
    assert metric["hit_rate@5"].compute(LABELS, SCORES) == pytest.approx(1.0)
    assert metric["ndcg@5"].compute(LABELS, SCORES) == pytest.approx((1 / math.log2(3) + 1 + 1 / math.log2(4)) / 3)
    assert metric["mrr"].compute(LABELS, SCORES) == pytest.approx((1 / 2 + 1 + 1 / 3) / 3)
    assert catalogue_coverage(1)(LABELS[:2], SCORES[:2]) == pytest.approx(2 / 5)  # items 1 and 0
    assert catalogue_coverage(5)(LABELS, SCORES) == pytest.approx(1.0)
    # The row terms a bootstrap resamples: their mean is the metric, row by row as computed above.
    assert metric["ndcg@5"].per_row(LABELS, SCORES).tolist() == pytest.approx([1 / math.log2(3), 1, 1 / math.log2(4)])
    assert metric["hit_rate@5"].per_row(LABELS, SCORES[:, ::-1]).tolist() == [1.0, 1.0, 1.0]
    assert metric["coverage@10"].per_row is None  # a share of the catalogue, not a mean over rows


def ranking_study(storage: str = "sqlite:///unused.db", **overrides: object) -> dict[str, object]:
    study = toy_study(storage, task="ranking", objective={"metric": "ndcg@5"})
    study["dataset"] = {"name": "toy_blobs", "options": {"rows": 300, "classes": 8, "separation": 2.5}}
    study.update(overrides)
    return study


def test_a_ranking_study_trains_and_is_scored_by_ranking_metrics() -> None:
    prepared = prepare_study(parse_study(ranking_study(), where="s"), toy_manager())
    assert "imbalance" not in prepared.space.dimensions  # class-imbalance strategies do not apply
    assert {metric.name for metric in prepared.metrics} >= {"hit_rate@10", "ndcg@10", "mrr", "coverage@10"}
    result = train(training_job(prepared, PLAN, CPU)).result
    assert "roc_auc" not in result.metrics
    # 8 separable clusters: far above a random ranking of 8 items (NDCG@5 0.37, HitRate@5 0.625).
    assert result.metrics["ndcg@5"] > 0.6 and result.metrics["hit_rate@5"] > 0.8


def test_a_classification_metric_is_refused_for_ranking() -> None:
    config = parse_study(ranking_study(objective={"metric": "roc_auc"}), where="s")
    with pytest.raises(ConfigError, match="does not score ranking tasks; metrics that do: .*ndcg@10"):
        prepare_study(config, toy_manager())


class _RecordedLoss:
    """A model builder's training loss: cross-entropy that records the batches it saw."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self.shapes.append(tuple(logits.shape))
        return cross_entropy(task="ranking")(logits, targets)


class _LossBuilder(ToyMLP):
    name = "toy_mlp_own_loss"

    def __init__(self, loss: _RecordedLoss) -> None:
        self.loss = loss
        self.plans: list[TrialPlan] = []

    def training_loss(
        self, options: BaseModel, splits: Splits, plan: TrialPlan, *, device: torch.device
    ) -> LossFunction | None:
        self.plans.append(plan)
        return self.loss


class _LossPlugin:
    def __init__(self, builder: _LossBuilder) -> None:
        self.builder = builder

    @hookimpl
    def autosft_register_models(self, register):  # type: ignore[no-untyped-def]
        register(self.builder)


def test_the_model_builder_supplies_the_training_loss_for_the_plan() -> None:
    builder = _LossBuilder(_RecordedLoss())
    study = ranking_study(model={"name": "toy_mlp_own_loss"})
    prepared = prepare_study(parse_study(study, where="s"), toy_manager(_LossPlugin(builder)))
    plan = dataclasses.replace(PLAN, extra={"negatives": 7})
    train(training_job(prepared, plan, CPU))
    assert builder.plans == [plan]
    assert builder.loss.shapes and all(shape[1] == 8 for shape in builder.loss.shapes)


def test_an_imbalance_strategy_loss_takes_precedence_over_the_builders() -> None:
    builder = _LossBuilder(_RecordedLoss())
    study = ranking_study(task="multiclass", objective={"metric": "accuracy"}, model={"name": "toy_mlp_own_loss"})
    prepared = prepare_study(parse_study(study, where="s"), toy_manager(_LossPlugin(builder)))
    train(training_job(prepared, dataclasses.replace(PLAN, imbalance="focal"), CPU))
    assert builder.plans and not builder.loss.shapes
