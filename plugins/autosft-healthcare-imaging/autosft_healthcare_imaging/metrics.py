"""Clinical metrics: operating points, per-class recall and calibration.

ROC-AUC, PR-AUC and balanced accuracy are core metrics. What a screening study adds is the question
asked at a fixed operating point: "if we may send at most 10 % of healthy patients for a needless
follow-up (specificity 0.9), what share of disease do we catch?" and the reverse; each class's recall
at the default decision, since a model that ignores the rare class can still post a good AUC; and
expected calibration error, because a clinician reads a predicted probability as a probability.

Binary metrics score class index 1 as positive (``positive_class`` of the image loaders puts the
finding there).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from autosft import ECE_BINS, Metric, expected_calibration_error

__all__ = [
    "METRICS",
    "sensitivity_at_specificity",
    "specificity_at_sensitivity",
    "worst_class_recall",
]

BINARY = frozenset({"binary"})
SINGLE_LABEL = frozenset({"binary", "multiclass"})


def _positive_scores(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).astype(np.int64).ravel()
    scores = np.asarray(probabilities, dtype=np.float64)
    return labels, (scores[:, 1] if scores.ndim == 2 else scores)


def _roc(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.metrics import roc_curve

    labels, scores = _positive_scores(labels, probabilities)
    if labels.min() == labels.max():
        raise ValueError("an operating point needs both classes")  # scored as NaN by the engine
    false_positive_rate, true_positive_rate, _ = roc_curve(labels, scores, drop_intermediate=False)
    return false_positive_rate, true_positive_rate


def sensitivity_at_specificity(labels: np.ndarray, probabilities: np.ndarray, *, specificity: float) -> float:
    """Largest true-positive rate over thresholds whose specificity is at least ``specificity``."""
    false_positive_rate, true_positive_rate = _roc(labels, probabilities)
    return float(true_positive_rate[1 - false_positive_rate >= specificity - 1e-12].max())


def specificity_at_sensitivity(labels: np.ndarray, probabilities: np.ndarray, *, sensitivity: float) -> float:
    """Largest specificity over thresholds whose true-positive rate is at least ``sensitivity``."""
    false_positive_rate, true_positive_rate = _roc(labels, probabilities)
    return float((1 - false_positive_rate[true_positive_rate >= sensitivity - 1e-12]).max())


def _class_recalls(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels).astype(np.int64).ravel()
    predicted = np.asarray(probabilities).argmax(axis=1)
    recalls = [np.mean(predicted[labels == index] == index) for index in np.unique(labels)]
    return np.asarray(recalls, dtype=np.float64)


def _class_recall(labels: np.ndarray, probabilities: np.ndarray, *, index: int) -> float:
    labels = np.asarray(labels).astype(np.int64).ravel()
    rows = labels == index
    if not rows.any():
        raise ValueError(f"no row of class {index}")
    return float(np.mean(np.asarray(probabilities).argmax(axis=1)[rows] == index))


def worst_class_recall(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The smallest per-class recall at the argmax decision, over classes present in ``labels``."""
    return float(_class_recalls(labels, probabilities).min())


#: Every metric this plugin registers.
METRICS: tuple[Metric, ...] = (
    Metric("sensitivity_at_specificity_90", "maximize", partial(sensitivity_at_specificity, specificity=0.9), BINARY,
           "true-positive rate at the best threshold whose specificity is at least 0.9"),
    Metric("specificity_at_sensitivity_90", "maximize", partial(specificity_at_sensitivity, sensitivity=0.9), BINARY,
           "specificity at the best threshold whose sensitivity is at least 0.9"),
    Metric("sensitivity", "maximize", partial(_class_recall, index=1), BINARY,
           "recall of the positive class (index 1) at the argmax decision"),
    Metric("specificity", "maximize", partial(_class_recall, index=0), BINARY,
           "recall of the negative class (index 0) at the argmax decision"),
    Metric("worst_class_recall", "maximize", worst_class_recall, SINGLE_LABEL,
           "smallest per-class recall at the argmax decision (balanced_accuracy is their mean)"),
    Metric("ece", "minimize", expected_calibration_error, SINGLE_LABEL,
           f"expected calibration error of the top-label confidence over {ECE_BINS} equal-width bins"),
)  # fmt: skip
