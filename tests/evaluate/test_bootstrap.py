"""Bootstrap intervals of test metrics: they cover the point estimate, are seeded, and narrow with more rows."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from autosft.default_plugins.metrics import METRICS
from autosft.evaluate.bootstrap import bootstrap_intervals

BINARY = [metric for metric in METRICS if "binary" in metric.task_types]


def _predictions(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A noisy but informative binary classifier: positives score higher on average."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.3).astype(np.int64)
    positive = 1 / (1 + np.exp(-(2.0 * labels - 1.0 + rng.normal(0, 1.2, rows))))
    return labels, np.stack([1 - positive, positive], axis=1)


@pytest.mark.parametrize("rows", [60, 400])
def test_intervals_cover_the_point_estimate(rows: int) -> None:
    labels, probabilities = _predictions(rows)
    intervals = bootstrap_intervals(BINARY, labels, probabilities, resamples=200, seed=3)
    assert set(intervals) == {metric.name for metric in BINARY}
    for name, interval in intervals.items():
        assert interval["low"] <= interval["value"] <= interval["high"], name
        assert interval["low"] < interval["high"], name  # noisy predictions: a real interval
        assert interval["resamples"] == 200


def test_intervals_are_seeded_and_narrow_with_more_rows() -> None:
    small = bootstrap_intervals(BINARY, *_predictions(60), resamples=100, seed=1)
    assert small == bootstrap_intervals(BINARY, *_predictions(60), resamples=100, seed=1)
    assert small != bootstrap_intervals(BINARY, *_predictions(60), resamples=100, seed=2)
    large = bootstrap_intervals(BINARY, *_predictions(1000), resamples=100, seed=1)
    for name in ("roc_auc", "accuracy", "log_loss"):
        assert large[name]["high"] - large[name]["low"] < 0.5 * (small[name]["high"] - small[name]["low"]), name


def test_a_metric_undefined_on_a_resample_counts_only_where_defined() -> None:
    labels = np.zeros(40, dtype=np.int64)
    labels[0] = 1  # one positive: about a third of the resamples miss it, and ROC-AUC is undefined there
    probabilities = np.tile([0.8, 0.2], (40, 1))
    intervals = bootstrap_intervals(BINARY, labels, probabilities, resamples=40, seed=0)
    assert 10 <= intervals["roc_auc"]["resamples"] < 40
    assert intervals["accuracy"]["resamples"] == 40
    few = bootstrap_intervals(BINARY, labels, probabilities, resamples=8, seed=0)
    assert few["accuracy"]["value"] == pytest.approx(39 / 40)
    assert math.isnan(few["accuracy"]["low"]) and math.isnan(few["accuracy"]["high"])  # under ten: no interval


def test_a_mean_over_rows_resamples_its_row_terms_to_the_same_interval() -> None:
    # Row terms (Metric.per_row) are a shortcut, never another answer: the same seeded intervals as
    # recomputing each metric on every resample, for accuracy and the ranking metrics alike.
    from autosft.default_plugins.ranking import METRICS as RANKING
    from autosft.evaluate.bootstrap import paired_difference

    labels, probabilities = _predictions(300)
    rng = np.random.default_rng(1)
    items = rng.random((300, 40))
    targets = rng.integers(0, 40, 300)
    items[np.arange(300), targets] += rng.random(300)  # better than random, not perfect
    for metrics, truth, scores in [(BINARY, labels, probabilities), (RANKING, targets, items)]:
        shortcut = [metric for metric in metrics if metric.per_row is not None]
        assert shortcut
        recomputed = [dataclasses.replace(metric, per_row=None) for metric in shortcut]
        fast = bootstrap_intervals(shortcut, truth, scores, resamples=100, seed=5)
        slow = bootstrap_intervals(recomputed, truth, scores, resamples=100, seed=5)
        assert fast.keys() == slow.keys()
        for name in fast:
            assert fast[name] == pytest.approx(slow[name]), name
        other = scores[::-1].copy()
        for quick, full in zip(shortcut, recomputed, strict=True):
            assert paired_difference(quick, truth, scores, other, resamples=100) == pytest.approx(
                paired_difference(full, truth, scores, other, resamples=100)
            )
