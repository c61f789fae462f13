"""Bootstrap confidence intervals of test metrics: how much a score would move on another test set.

A test split of a few hundred rows gives a point estimate whose noise is often larger than the
gap between configurations; the interval says so. Rows are resampled with replacement and every
metric is recomputed on each resample with :func:`autosft.engine.scoring.score`, so intervals
exist for exactly the metrics the search used. Percentile intervals, seeded: the same predictions
always give the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from autosft.components import Metric
from autosft.engine.scoring import score

__all__ = ["DEFAULT_RESAMPLES", "bootstrap_intervals"]

DEFAULT_RESAMPLES = 1000


def bootstrap_intervals(
    metrics: Sequence[Metric],
    labels: np.ndarray,
    probabilities: np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Each metric's value on all rows and its percentile interval over ``resamples`` resamples.

    Returns ``{metric: {"value", "low", "high", "resamples"}}``; ``resamples`` counts the resamples
    on which the metric was defined (ROC-AUC is not on a resample holding one class), and an
    interval needs at least ten of them, else ``low``/``high`` are NaN.
    """
    if not 0 < level < 1:
        raise ValueError(f"`0 < level < 1` must hold, but got level={level}")
    point = score(metrics, labels, probabilities)
    rng = np.random.default_rng(seed)
    rows = len(labels)
    draws: dict[str, list[float]] = {name: [] for name in point}
    for _ in range(resamples):
        index = rng.integers(0, rows, size=rows)
        for name, value in score(metrics, labels[index], probabilities[index]).items():
            if not math.isnan(value):
                draws[name].append(value)
    tail = (1 - level) / 2 * 100
    intervals: dict[str, dict[str, Any]] = {}
    for name, value in point.items():
        values = np.asarray(draws[name])
        low, high = np.percentile(values, [tail, 100 - tail]) if len(values) >= 10 else (math.nan, math.nan)
        intervals[name] = {"value": value, "low": float(low), "high": float(high), "resamples": len(values)}
    return intervals
