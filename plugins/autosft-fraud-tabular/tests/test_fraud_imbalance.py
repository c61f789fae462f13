"""Resampling strategies on real imbalanced data, including the small-minority edge cases."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from autosft_fraud_tabular.imbalance import STRATEGIES

from autosft.components import DataSplit, ImbalanceStrategy, Splits

BY_NAME = {strategy.name: strategy for strategy in STRATEGIES}


def imbalanced(minority: int, majority: int = 200, seed: int = 0, features: int = 6) -> DataSplit:
    rng = np.random.default_rng(seed)
    inputs = np.concatenate([rng.normal(0, 1, (majority, features)), rng.normal(1.5, 1, (minority, features))])
    labels = np.array([0] * majority + [1] * minority)
    return DataSplit(inputs.astype(np.float64), labels)  # float64 in: the strategies must hand back float32


def test_registers_exactly_the_plugin_names() -> None:
    assert list(BY_NAME) == ["random_over", "random_under", "smote", "adasyn", "smote_tomek"]
    for strategy in STRATEGIES:
        assert issubclass(strategy, ImbalanceStrategy)
        assert strategy.input_kinds == frozenset({"tabular"})


@pytest.mark.parametrize("name", list(BY_NAME))
def test_resampling_balances_classes_deterministically(name: str, fraud_splits: Splits) -> None:
    strategy = BY_NAME[name]()
    split = fraud_splits.train
    first = strategy.resample(split, seed=0)

    counts = np.bincount(first.labels)
    assert counts.min() / counts.max() > 0.8
    assert first.inputs.dtype == np.float32
    assert first.inputs.shape[1] == split.inputs.shape[1]
    again = strategy.resample(split, seed=0)
    assert np.array_equal(first.inputs, again.inputs)
    assert np.array_equal(first.labels, again.labels)
    assert np.array_equal(split.labels, fraud_splits.train.labels)  # the input split is left alone


@pytest.mark.parametrize("name", ["smote", "adasyn", "smote_tomek", "random_over"])
def test_a_different_seed_gives_other_rows(name: str) -> None:
    split = imbalanced(minority=20)
    first, other = BY_NAME[name]().resample(split, seed=0), BY_NAME[name]().resample(split, seed=1)
    assert not np.array_equal(first.inputs, other.inputs)


@pytest.mark.parametrize("name", ["smote", "adasyn", "smote_tomek"])
def test_a_tiny_minority_uses_fewer_neighbours(name: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        result = BY_NAME[name]().resample(imbalanced(minority=3), seed=0)
    assert "using 2 neighbours" in caplog.text
    assert np.bincount(result.labels)[1] > 3


@pytest.mark.parametrize("name", ["smote", "adasyn", "smote_tomek"])
def test_a_single_minority_row_falls_back_to_random_oversampling(name: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        result = BY_NAME[name]().resample(imbalanced(minority=1), seed=0)
    assert "falling back to random oversampling" in caplog.text
    assert np.bincount(result.labels).tolist() == [200, 200]


def test_adasyn_without_majority_neighbours_falls_back_to_smote(caplog: pytest.LogCaptureFixture) -> None:
    # Classes far apart: no minority row has a majority neighbour, so ADASYN has nothing to adapt to.
    rng = np.random.default_rng(0)
    inputs = np.concatenate([rng.normal(0, 0.1, (100, 3)), rng.normal(50, 0.1, (10, 3))])
    split = DataSplit(inputs, np.array([0] * 100 + [1] * 10))
    with caplog.at_level(logging.WARNING):
        result = BY_NAME["adasyn"]().resample(split, seed=0)
    assert "falling back to SMOTE" in caplog.text
    assert np.bincount(result.labels).tolist() == [100, 100]


def test_multiclass_labels_are_balanced_too() -> None:
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(160, 4))
    labels = np.array([0] * 100 + [1] * 40 + [2] * 20)
    result = BY_NAME["smote"]().resample(DataSplit(inputs + labels[:, None], labels), seed=0)
    assert np.bincount(result.labels).tolist() == [100, 100, 100]


def test_a_single_class_split_is_returned_unchanged() -> None:
    split = DataSplit(np.zeros((5, 2), dtype=np.float32), np.zeros(5, dtype=np.int64))
    assert BY_NAME["smote"]().resample(split, seed=0) is split
