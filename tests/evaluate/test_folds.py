"""Cross-validation folds: stratified, grouped, seeded, and refused when the data cannot fill them."""

from __future__ import annotations

import numpy as np
import pytest

from autosft.components import DataSplit, Splits
from autosft.config import parse_study
from autosft.contracts import TrialResult
from autosft.engine.job import Objective
from autosft.errors import ConfigError
from autosft.evaluate.folds import (
    cross_validation_folds,
    fold_records,
    mean_result,
    shared_epoch,
    small_validation_notice,
)
from autosft.testing import toy_study


def _splits(rows: int = 200, *, groups: bool = False, group_size: int = 4, seed: int = 0) -> Splits:
    rng = np.random.default_rng(seed)

    def part(count: int, offset: int) -> DataSplit:
        labels = (rng.random(count) < 0.3).astype(np.int64)
        names = np.array([f"p{(offset + row) // group_size}" for row in range(count)], dtype=object) if groups else None
        return DataSplit(rng.normal(size=(count, 3)).astype(np.float32), labels, names)

    return Splits(part(rows, 0), part(rows // 2, rows), part(rows // 2, 10 * rows), "binary", ("no", "yes"), "tabular",
                  "data", group_unit="patient")  # fmt: skip


def test_folds_partition_train_and_validation_the_same_way_every_time() -> None:
    splits = _splits()
    folds = cross_validation_folds(splits, 4, seed=3)
    again = cross_validation_folds(splits, 4, seed=3)
    assert len(folds) == 4
    assert [fold.fingerprint for fold in folds] == [fold.fingerprint for fold in again]
    assert len({fold.fingerprint for fold in folds}) == 4  # the activation cache keys by fold
    held = np.concatenate([fold.val.inputs for fold in folds])
    combined = np.concatenate([splits.train.inputs, splits.val.inputs])
    assert sorted(map(tuple, held.tolist())) == sorted(map(tuple, combined.tolist()))  # each row held out once
    for fold in folds:
        assert fold.test is splits.test
        assert len(fold.train) + len(fold.val) == len(combined)
        assert abs(fold.val.labels.mean() - combined_rate(splits)) < 0.03  # stratified
    other = cross_validation_folds(splits, 4, seed=4)
    assert [fold.fingerprint for fold in other] != [fold.fingerprint for fold in folds]


def combined_rate(splits: Splits) -> float:
    return float(np.concatenate([splits.train.labels, splits.val.labels]).mean())


def test_grouped_folds_never_split_a_group() -> None:
    folds = cross_validation_folds(_splits(groups=True), 5, seed=0)
    for fold in folds:
        assert fold.train.groups is not None and fold.val.groups is not None
        assert not set(fold.train.groups.tolist()) & set(fold.val.groups.tolist())
        assert len(fold.val.groups) == len(fold.val)


def test_folds_the_data_cannot_fill_are_refused_with_the_limit() -> None:
    splits = _splits(rows=20)
    smallest = int(np.bincount(np.concatenate([splits.train.labels, splits.val.labels])).min())
    with pytest.raises(ConfigError, match=f"class 'yes' has {smallest}; use folds <= {smallest}"):
        cross_validation_folds(splits, smallest + 1, seed=0)
    grouped = _splits(rows=40, groups=True, group_size=10)  # 4 patients in train, 2 in validation
    with pytest.raises(ConfigError, match="7 folds need at least 7 patients in train\\+validation, but there are 6"):
        cross_validation_folds(grouped, 7, seed=0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"validation": {"folds": 1}}, "validation.folds: Input should be greater than or equal to 2"),
        ({"validation": {"folds": 5}, "task": "ranking"}, "validation.folds does not apply to ranking tasks"),
        ({"validation": {"fold": 5}}, "validation.fold: Extra inputs are not permitted"),
    ],
)
def test_bad_folds_in_the_study_file(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_study(toy_study("sqlite://", **change), where="study.yaml")


def _fold(curve: list[float], *, seconds: float = 1.5) -> TrialResult:
    """A fold that trained ``len(curve)`` epochs with ``curve`` as its validation ROC-AUC, and stopped at its best."""
    history = [{"epoch": float(epoch), "train_loss": 0.5, "roc_auc": value, "f1": value / 2}
               for epoch, value in enumerate(curve, start=1)]  # fmt: skip
    best = max(range(len(curve)), key=curve.__getitem__)
    metrics = {key: value for key, value in history[best].items() if key != "epoch"}
    return TrialResult([curve[best]], best + 1, len(curve), metrics, history, {"total_seconds": seconds}, 10, 20,
                       len(curve) < 4, ["cached"])  # fmt: skip


def test_a_trial_over_folds_scores_their_mean_curve_at_one_shared_epoch() -> None:
    # Each fold's own best (0.9, 0.8, 0.7) would average 0.8; the folds share one epoch instead.
    folds = [_fold([0.9, 0.6, 0.6, 0.6]), _fold([0.6, 0.8, 0.7, 0.7]), _fold([0.7, 0.6])]  # the third stopped early
    mean = mean_result(folds, [Objective("roc_auc", "maximize")])
    assert mean.values == pytest.approx([(0.9 + 0.6 + 0.7) / 3])  # epoch 1 beats epoch 2's (0.6 + 0.8 + 0.6) / 3
    assert mean.metrics == pytest.approx({"train_loss": 0.5, "roc_auc": 2.2 / 3, "f1": 1.1 / 3})
    assert mean.best_epoch == 1 and mean.epochs_run == 10 and mean.timings == {"total_seconds": 4.5}
    assert mean.history == folds[0].history and mean.notes == ["cached"] and mean.stopped_early
    # A fold that stopped keeps its last score: at epoch 4 the third fold still counts, with 0.6.
    later = [_fold([0.5, 0.6, 0.7, 0.9]), _fold([0.5, 0.6, 0.7, 0.8]), _fold([0.7, 0.6])]
    assert shared_epoch(later, [Objective("roc_auc", "maximize")]) == 3  # (0.9 + 0.8 + 0.6) / 3 at epoch 4
    # Minimized, the same curves share the epoch with the lowest mean.
    assert mean_result(later, [Objective("roc_auc", "minimize")]).best_epoch == 1
    # An epoch where one fold's score is undefined (NaN) leaves the mean undefined: never shared.
    undefined = [_fold([0.5, float("nan"), 0.7]), _fold([0.6, 0.9, 0.6])]
    assert shared_epoch(undefined, [Objective("roc_auc", "maximize")]) == 2  # (0.7 + 0.6) / 2 at epoch 3


def test_the_stored_fold_scores_average_to_the_trial_value() -> None:
    folds = [_fold([0.9, 0.6, 0.6, 0.6]), _fold([0.6, 0.8, 0.7, 0.7])]
    objectives = [Objective("roc_auc", "maximize")]
    records = fold_records(folds, objectives)
    assert [record["values"] for record in records] == [[0.9], [0.6]]  # both at epoch 1: (0.75 vs 0.7 at 2)
    assert [record["best_epoch"] for record in records] == [1, 2]  # each fold's own best stays on record
    assert np.mean([record["values"][0] for record in records]) == pytest.approx(
        mean_result(folds, objectives).values[0]
    )


def test_the_small_validation_notice_only_without_folds() -> None:
    small = _splits(rows=200)
    config = parse_study(toy_study("sqlite://"), where="t")
    assert "validation holds 100 rows (< 500)" in (small_validation_notice(config, small) or "")
    with_folds = parse_study(toy_study("sqlite://", validation={"folds": 5}), where="t")
    assert small_validation_notice(with_folds, small) is None
    assert small_validation_notice(config, _splits(rows=1000)) is None
