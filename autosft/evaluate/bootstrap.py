"""Bootstrap confidence intervals of test metrics: how much a score would move on another test set.

A test split of a few hundred rows gives a point estimate whose noise is often larger than the
gap between configurations; the interval says so. Rows are resampled with replacement and every
metric is recomputed on each resample with :func:`autosft.engine.scoring.score`, so intervals
exist for exactly the metrics the search used; a metric that is a mean over rows
(:attr:`Metric.per_row`) is instead the mean of its row terms on the resample, the same number
without recomputing it from (rows, catalogue) scores. Percentile intervals, seeded: the same
predictions always give the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
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
    terms = _row_terms(metrics, labels, probabilities)
    recomputed = [metric for metric in metrics if metric.name not in terms]
    rng = np.random.default_rng(seed)
    rows = len(labels)
    draws: dict[str, list[float]] = {name: [] for name in point}
    for _ in range(resamples):
        index = rng.integers(0, rows, size=rows)
        values = {name: float(row_terms[index].mean()) for name, row_terms in terms.items()}
        if recomputed:
            values |= score(recomputed, labels[index], probabilities[index])
        for name, value in values.items():
            if not math.isnan(value):
                draws[name].append(value)
    return {name: _interval(value, draws[name], level) for name, value in point.items()}


def _row_terms(metrics: Sequence[Metric], labels: np.ndarray, probabilities: np.ndarray) -> dict[str, np.ndarray]:
    """Each row's term of the metrics that are means over rows and defined on these rows, by name."""
    terms = {}
    for metric in metrics:
        if metric.per_row is not None:
            try:
                values = np.asarray(metric.per_row(labels, probabilities), dtype=np.float64)
            except ValueError:
                continue  # undefined here: recomputed per resample, where score() says NaN
            if values.shape == (len(labels),) and not np.isnan(values).any():
                terms[metric.name] = values
    return terms


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
    on_first, on_second = _resampled(metric, labels, first), _resampled(metric, labels, second)
    rng = np.random.default_rng(seed)
    rows = len(labels)
    draws: list[float] = []
    for _ in range(resamples):
        index = rng.integers(0, rows, size=rows)
        gap = on_first(index) - on_second(index)
        if not math.isnan(gap):
            draws.append(gap)
    return _interval(value, draws, level)


def _resampled(metric: Metric, labels: np.ndarray, probabilities: np.ndarray) -> Callable[[np.ndarray], float]:
    """The metric on the rows ``index`` picks: a mean of row terms where it is one, else recomputed."""
    terms = _row_terms([metric], labels, probabilities).get(metric.name)
    if terms is not None:
        return lambda index: float(terms[index].mean())
    return lambda index: score([metric], labels[index], probabilities[index])[metric.name]
