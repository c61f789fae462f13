"""Standard classification metrics from scikit-learn, over predicted class probabilities."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autosft.components import Metric
from autosft.hookspecs import hookimpl

SINGLE_LABEL = frozenset({"binary", "multiclass"})
BINARY = frozenset({"binary"})
MULTILABEL = frozenset({"multilabel"})


def _predicted(probabilities: np.ndarray) -> np.ndarray:
    return probabilities.argmax(axis=1)


def _roc_auc(labels: np.ndarray, probabilities: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if probabilities.shape[1] == 2 and labels.ndim == 1:
        return roc_auc_score(labels, probabilities[:, 1])
    if labels.ndim == 2:
        return roc_auc_score(labels, probabilities, average="macro")
    return roc_auc_score(labels, probabilities, multi_class="ovr", labels=np.arange(probabilities.shape[1]))


def _pr_auc(labels: np.ndarray, probabilities: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    if labels.ndim == 2:
        return average_precision_score(labels, probabilities, average="macro")
    return average_precision_score(labels, probabilities[:, 1])


def _sklearn(name: str, **kwargs: Any) -> Callable[[np.ndarray, np.ndarray], float]:
    """A label-based sklearn metric applied to argmax (or 0.5-thresholded multilabel) predictions."""

    def compute(labels: np.ndarray, probabilities: np.ndarray) -> float:
        import sklearn.metrics

        predictions = (probabilities >= 0.5).astype(int) if labels.ndim == 2 else _predicted(probabilities)
        return getattr(sklearn.metrics, name)(labels, predictions, **kwargs)

    return compute


def _log_loss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    from sklearn.metrics import log_loss

    return log_loss(labels, probabilities, labels=np.arange(probabilities.shape[1]))


METRICS = (
    Metric("accuracy", "maximize", _sklearn("accuracy_score"), SINGLE_LABEL, "Share of rows predicted right."),
    Metric(
        "balanced_accuracy", "maximize", _sklearn("balanced_accuracy_score"), SINGLE_LABEL, "Mean per-class recall."
    ),
    Metric("f1", "maximize", _sklearn("f1_score", zero_division=0), BINARY, "F1 of the positive class at 0.5."),
    Metric("f1_macro", "maximize", _sklearn("f1_score", average="macro", zero_division=0), SINGLE_LABEL | MULTILABEL,
           "Unweighted mean of per-class F1."),
    Metric("f1_micro", "maximize", _sklearn("f1_score", average="micro", zero_division=0), SINGLE_LABEL | MULTILABEL,
           "F1 over all label decisions (accuracy, for single-label tasks)."),
    Metric("roc_auc", "maximize", _roc_auc, SINGLE_LABEL | MULTILABEL, "Area under the ROC curve (one-vs-rest)."),
    Metric("pr_auc", "maximize", _pr_auc, BINARY | MULTILABEL, "Average precision of the positive class."),
    Metric("log_loss", "minimize", _log_loss, SINGLE_LABEL, "Cross-entropy of the predicted probabilities."),
)  # fmt: skip


@hookimpl(trylast=True)
def autosft_register_metrics(register: Callable[[Metric], None]) -> None:
    for metric in METRICS:
        register(metric)
