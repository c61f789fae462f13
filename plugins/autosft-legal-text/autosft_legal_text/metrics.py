"""Per-class and positive-class metrics for clause and case classification.

Accuracy, macro/micro F1, ROC-AUC, PR-AUC and the positive class's F1 (``f1``) are core metrics.
A legal team also asks how many flagged clauses are really unfair (precision) and how many unfair
clauses are flagged (recall), and how each class fares, since a model can post a good macro score
while missing a rare category. Per-class metrics are registered by class index
(``f1_class_0`` ...) for the first :data:`PER_CLASS_LIMIT` classes; a study's index of a class is
its position in ``class_names``; a study with fewer classes does not score them.

Single-label predictions are the argmax; multilabel ones threshold each class at 0.5.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from autosft import Metric

__all__ = ["METRICS", "PER_CLASS_LIMIT", "class_score", "worst_class_f1"]

BINARY = frozenset({"binary"})
SINGLE_LABEL = frozenset({"binary", "multiclass"})
ALL_TASKS = frozenset({"binary", "multiclass", "multilabel"})
MULTILABEL = frozenset({"multilabel"})
#: Per-class metrics exist for class indices below this.
PER_CLASS_LIMIT = 8


def _predicted(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    return (probabilities >= 0.5).astype(np.int64) if labels.ndim == 2 else probabilities.argmax(axis=1)


def _sklearn(name: str, **kwargs: object) -> partial[float]:
    return partial(_score, name, kwargs)


def _score(name: str, kwargs: dict[str, object], labels: np.ndarray, probabilities: np.ndarray) -> float:
    import sklearn.metrics

    return float(getattr(sklearn.metrics, name)(labels, _predicted(labels, probabilities), zero_division=0, **kwargs))


def _accuracy(labels: np.ndarray, probabilities: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(labels, _predicted(labels, probabilities)))


def class_score(labels: np.ndarray, probabilities: np.ndarray, *, index: int, measure: str) -> float:
    """Precision, recall or F1 of class ``index`` (one-vs-rest); a ``ValueError`` if the task has no such class."""
    import sklearn.metrics

    if index >= probabilities.shape[1]:
        raise ValueError(f"no class {index}")
    predicted = _predicted(labels, probabilities)
    truth = labels[:, index] if labels.ndim == 2 else (labels == index).astype(np.int64)
    chosen = predicted[:, index] if labels.ndim == 2 else (predicted == index).astype(np.int64)
    scorer = {"precision": sklearn.metrics.precision_score, "recall": sklearn.metrics.recall_score,
              "f1": sklearn.metrics.f1_score}[measure]  # fmt: skip
    return float(scorer(truth, chosen, zero_division=0))


def worst_class_f1(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The smallest one-vs-rest F1 over the classes (a rare class the model ignores drags it to 0)."""
    return min(class_score(labels, probabilities, index=i, measure="f1") for i in range(probabilities.shape[1]))


def _per_class() -> tuple[Metric, ...]:
    return tuple(
        Metric(f"{measure}_class_{index}", "maximize", partial(class_score, index=index, measure=measure), ALL_TASKS,
               f"{measure} of class index {index} (its position in class_names), one-vs-rest",
               min_classes=index + 1)
        for index in range(PER_CLASS_LIMIT)
        for measure in ("precision", "recall", "f1")
    )  # fmt: skip


#: Every metric this plugin registers.
METRICS: tuple[Metric, ...] = (
    Metric("precision", "maximize", _sklearn("precision_score"), BINARY,
           "share of rows flagged positive (e.g. unfair) that are"),
    Metric("recall", "maximize", _sklearn("recall_score"), BINARY, "share of positive rows flagged"),
    Metric("precision_macro", "maximize", _sklearn("precision_score", average="macro"), ALL_TASKS,
           "unweighted mean of per-class precision"),
    Metric("recall_macro", "maximize", _sklearn("recall_score", average="macro"), ALL_TASKS,
           "unweighted mean of per-class recall"),
    Metric("f1_weighted", "maximize", _sklearn("f1_score", average="weighted"), ALL_TASKS,
           "per-class F1 averaged with class frequencies as weights"),
    Metric("f1_samples", "maximize", _sklearn("f1_score", average="samples"), MULTILABEL,
           "F1 per row, averaged over rows"),
    Metric("subset_accuracy", "maximize", _accuracy, MULTILABEL, "share of rows with every label right"),
    Metric("worst_class_f1", "maximize", worst_class_f1, ALL_TASKS, "smallest per-class F1"),
    *_per_class(),
)  # fmt: skip
