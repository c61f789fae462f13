"""Clinical metrics on hand-checked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from autosft_healthcare_imaging.metrics import (
    METRICS,
    sensitivity_at_specificity,
    specificity_at_sensitivity,
    worst_class_recall,
)

from autosft import expected_calibration_error
from autosft.engine.scoring import score


def _binary(scores: list[float]) -> np.ndarray:
    positive = np.asarray(scores, dtype=np.float64)
    return np.stack([1 - positive, positive], axis=1)


# 10 negatives scored 0.0..0.9, 5 positives scored 0.35, 0.55, 0.85, 0.95, 0.99
LABELS = np.array([0] * 10 + [1] * 5)
SCORES = _binary([index / 10 for index in range(10)] + [0.35, 0.55, 0.85, 0.95, 0.99])


def test_sensitivity_at_specificity() -> None:
    # specificity >= 0.9 allows one false positive (the 0.9 negative): threshold 0.85 catches 3 of 5
    assert sensitivity_at_specificity(LABELS, SCORES, specificity=0.9) == pytest.approx(0.6)
    assert sensitivity_at_specificity(LABELS, SCORES, specificity=1.0) == pytest.approx(0.4)


def test_specificity_at_sensitivity() -> None:
    # sensitivity >= 0.9 means catching all 5: threshold 0.35 lets 6 negatives (0.4..0.9) through
    assert specificity_at_sensitivity(LABELS, SCORES, sensitivity=0.9) == pytest.approx(0.4)
    assert specificity_at_sensitivity(LABELS, SCORES, sensitivity=0.6) == pytest.approx(0.9)


def test_per_class_recall_metrics() -> None:
    metrics = {metric.name: metric for metric in METRICS}
    # at argmax (0.5): negatives 0.6..0.9 are wrong (4 of 10), positive 0.35 is missed (1 of 5)
    assert metrics["specificity"].compute(LABELS, SCORES) == pytest.approx(0.6)
    assert metrics["sensitivity"].compute(LABELS, SCORES) == pytest.approx(0.8)
    assert worst_class_recall(LABELS, SCORES) == pytest.approx(0.6)
    three = np.eye(3)[[0, 1, 2, 2, 1, 0]]
    assert worst_class_recall(np.array([0, 1, 2, 2, 1, 1]), three) == pytest.approx(2 / 3)  # class 1: 2 of 3


def test_expected_calibration_error() -> None:
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    confident_and_right = _binary([0.95] * 4 + [0.05] * 4)
    assert expected_calibration_error(labels, confident_and_right) == pytest.approx(0.05)
    # confidence 0.9 everywhere but only half right: gap 0.4
    half = _binary([0.9] * 8)
    assert expected_calibration_error(labels, half) == pytest.approx(0.4)
    assert expected_calibration_error(labels, _binary([0.5] * 8)) == pytest.approx(0.0)


def test_registered_metrics_and_directions() -> None:
    directions = {metric.name: metric.direction for metric in METRICS}
    assert directions == {
        "sensitivity_at_specificity_90": "maximize",
        "specificity_at_sensitivity_90": "maximize",
        "sensitivity": "maximize",
        "specificity": "maximize",
        "worst_class_recall": "maximize",
        "ece": "minimize",
    }
    assert {metric.name for metric in METRICS if "multiclass" in metric.task_types} == {"worst_class_recall", "ece"}


def test_one_class_validation_is_nan_not_a_crash() -> None:
    values = score(METRICS, np.zeros(4, dtype=np.int64), _binary([0.1, 0.2, 0.3, 0.4]))
    assert math.isnan(values["sensitivity_at_specificity_90"]) and math.isnan(values["sensitivity"])
    assert values["specificity"] == 1.0
