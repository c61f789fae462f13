"""recall_at_precision on hand-computed examples."""

from __future__ import annotations

import numpy as np
import pytest
from autosft_fraud_tabular.metrics import METRICS, recall_at_precision


def as_probabilities(scores: list[float]) -> np.ndarray:
    positive = np.asarray(scores)
    return np.stack([1 - positive, positive], axis=1)


# Ranked by score: P P N P N P N N (4 positives).
# Cut after rank k -> precision, recall: 1: 1/1 .25, 2: 2/2 .5, 3: 2/3 .5, 4: 3/4 .75, 5: 3/5 .75,
# 6: 4/6 (.667) 1.0. So the best recall at precision >= .7 is .75, at >= .66 it is 1.0.
LABELS = np.array([1, 1, 0, 1, 0, 1, 0, 0])
SCORES = as_probabilities([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])


@pytest.mark.parametrize(
    ("min_precision", "expected"),
    [(1.0, 0.5), (0.9, 0.5), (0.75, 0.75), (0.7, 0.75), (0.66, 1.0), (0.5, 1.0)],
)
def test_hand_computed_recall(min_precision: float, expected: float) -> None:
    assert recall_at_precision(LABELS, SCORES, min_precision=min_precision) == pytest.approx(expected)


def test_registered_metrics() -> None:
    by_name = {metric.name: metric for metric in METRICS}
    assert set(by_name) == {"recall_at_precision_80", "recall_at_precision_90"}
    assert by_name["recall_at_precision_80"].compute(LABELS, SCORES) == pytest.approx(0.5)
    assert by_name["recall_at_precision_90"].compute(LABELS, SCORES) == pytest.approx(0.5)
    assert all(m.direction == "maximize" and m.task_types == frozenset({"binary"}) for m in METRICS)


def test_precision_never_reached_gives_zero() -> None:
    labels = np.array([0, 0, 1, 0])  # the single positive ranks last
    assert recall_at_precision(labels, as_probabilities([0.9, 0.8, 0.1, 0.7]), min_precision=0.8) == 0.0


def test_no_positive_rows_gives_zero() -> None:
    assert recall_at_precision(np.zeros(4, dtype=int), as_probabilities([0.1, 0.2, 0.3, 0.4]), min_precision=0.8) == 0.0


def test_ties_share_one_threshold() -> None:
    labels = np.array([1, 0, 1, 1])
    # All four tie: one threshold with precision 3/4 and recall 1.
    scores = as_probabilities([0.5, 0.5, 0.5, 0.5])
    assert recall_at_precision(labels, scores, min_precision=0.75) == 1.0
    assert recall_at_precision(labels, scores, min_precision=0.8) == 0.0
