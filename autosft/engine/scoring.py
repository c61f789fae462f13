"""Scoring predicted probabilities with every registered metric that fits the task, and the
expected calibration error that both a metric (healthcare imaging's ``ece``) and the export's
calibration record use."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable

import numpy as np

from autosft.components import Metric

__all__ = ["ECE_BINS", "expected_calibration_error", "score"]

#: Equal-width confidence bins of the expected calibration error.
ECE_BINS = 15


def score(metrics: Iterable[Metric], labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Each metric's value; one that cannot be computed on these rows (e.g. ROC-AUC on a single
    class) is NaN rather than an exception, so one bad metric never kills a trial."""
    scores: dict[str, float] = {}
    for metric in metrics:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # sklearn warns on ill-defined precision; NaN says it
                value = float(metric.compute(labels, probabilities))
        except ValueError:
            value = math.nan
        scores[metric.name] = value
    return scores


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, *, bins: int = ECE_BINS) -> float:
    """Top-label ECE: the rows-weighted mean gap between confidence and accuracy over equal-width bins."""
    labels = np.asarray(labels).astype(np.int64).ravel()
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    # Bin i holds confidences in (i/bins, (i+1)/bins]; the top-label confidence is never below 1/classes.
    index = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    total = 0.0
    for bin_index in np.unique(index):
        rows = index == bin_index
        total += rows.sum() * abs(confidence[rows].mean() - correct[rows].mean())
    return float(total / len(labels))
