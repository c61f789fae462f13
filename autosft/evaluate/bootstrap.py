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

__all__ = ["DEFAULT_RESAMPLES", "bootstrap_intervals", "paired_difference"]

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
    _check_level(level)
    point = score(metrics, labels, probabilities)
    rng = np.random.default_rng(seed)
    rows = len(labels)
    draws: dict[str, list[float]] = {name: [] for name in point}
    for _ in range(resamples):
        index = rng.integers(0, rows, size=rows)
        for name, value in score(metrics, labels[index], probabilities[index]).items():
            if not math.isnan(value):
                draws[name].append(value)
    return {name: _interval(value, draws[name], level) for name, value in point.items()}


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"`0 < level < 1` must hold, but got level={level}")


def _interval(value: float, draws: list[float], level: float) -> dict[str, Any]:
    """The percentile interval of ``draws``; NaN bounds with fewer than ten defined resamples."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail]) if len(draws) >= 10 else (math.nan, math.nan)
    return {"value": value, "low": float(low), "high": float(high), "resamples": len(draws)}


def paired_difference(
    metric: Metric,
    labels: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """``metric(first) - metric(second)`` on all rows and its paired percentile interval.

    Paired: each resample draws one set of rows and scores both predictions on it, so the
    interval measures the gap between two models on the same test set, not the noise of each;
    two models that err on the same rows differ far less than their separate intervals suggest.
    Returns ``{"value", "low", "high", "resamples"}`` as :func:`bootstrap_intervals` does.
    """
    _check_level(level)
    [(name, value)] = score([metric], labels, first).items()
    value -= score([metric], labels, second)[name]
    rng = np.random.default_rng(seed)
    rows = len(labels)
    draws: list[float] = []
    for _ in range(resamples):
        index = rng.integers(0, rows, size=rows)
        gap = score([metric], labels[index], first[index])[name] - score([metric], labels[index], second[index])[name]
        if not math.isnan(gap):
            draws.append(gap)
    return _interval(value, draws, level)
