"""Scoring predicted probabilities with every registered metric that fits the task."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable

import numpy as np

from autosft.components import Metric

__all__ = ["score"]


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
