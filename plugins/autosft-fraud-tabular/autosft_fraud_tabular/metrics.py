"""Fraud-operations metrics: recall reached while precision stays at or above a floor.

A fraud team can review only so many alerts, so what matters is how much fraud a model catches
at an acceptable false-alarm share, not its ranking quality everywhere (ROC-AUC) or on average
(PR-AUC). ``recall_at_precision_80`` answers "at 80% precision, what share of fraud is caught?".
"""

from __future__ import annotations

from functools import partial

import numpy as np

from autosft import Metric

__all__ = ["METRICS", "recall_at_precision"]


def recall_at_precision(labels: np.ndarray, probabilities: np.ndarray, *, min_precision: float) -> float:
    """Largest recall over thresholds whose precision is at least ``min_precision``; 0.0 if none.

    ``probabilities`` has shape (rows, 2), column 1 the positive class (a 1-D array of positive
    scores works too); ``labels`` holds 0/1. Without a positive row there is nothing to recall: 0.0.
    """
    from sklearn.metrics import precision_recall_curve

    labels = np.asarray(labels).astype(np.int64).ravel()
    scores = np.asarray(probabilities, dtype=np.float64)
    scores = scores[:, 1] if scores.ndim == 2 else scores
    if not labels.any():
        return 0.0
    precision, recall, _ = precision_recall_curve(labels, scores)
    reached = recall[precision >= min_precision]
    return float(reached.max()) if reached.size else 0.0


def _metric(percent: int) -> Metric:
    return Metric(
        name=f"recall_at_precision_{percent}",
        direction="maximize",
        compute=partial(recall_at_precision, min_precision=percent / 100),
        task_types=frozenset({"binary"}),
        description=f"largest recall with precision >= {percent}% (0 if never reached)",
    )


#: Every metric this plugin registers.
METRICS: tuple[Metric, ...] = (_metric(80), _metric(90))
