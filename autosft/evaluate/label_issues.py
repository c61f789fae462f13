"""Likely label errors, confident-learning style, from a cheap model's out-of-fold probabilities.

A logistic regression on the row embeddings predicts every row from folds that did not see it.
A class's threshold is the mean probability the model gives that class on rows labelled with it
(Northcutt et al., 2021), so a rare class is not flagged just for being rare. A row is a suspect
when its given label's probability is below that label's threshold while another class reaches
its own; suspects rank by self-confidence relative to the threshold, lowest (most suspect) first.
Multilabel data is checked one label column at a time, as a binary problem.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["LabelSuspects", "find_label_issues"]

FOLDS = 5


@dataclass(frozen=True)
class LabelSuspects:
    """Suspect rows (indices into the pooled rows), most suspect first, and how good the model was."""

    rows: np.ndarray
    given: np.ndarray
    suggested: np.ndarray
    score: np.ndarray
    model_accuracy: float
    label_column: np.ndarray | None = None


def _out_of_fold(features: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray | None:
    """Probabilities (rows, classes present) from a stratified k-fold; None when a class is too rare."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    present = np.unique(labels)
    if len(present) < 2 or np.bincount(labels)[present].min() < 2:
        return None
    folds = min(FOLDS, int(np.bincount(labels)[present].min()))
    model = LogisticRegression(max_iter=300, C=1.0)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings: a rough model is all we need
        return cross_val_predict(model, features, labels, cv=splitter, method="predict_proba")


def _confident_suspects(probabilities: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows off the diagonal of the confident joint: (rows, suggested class, relative self-confidence)."""
    classes = probabilities.shape[1]
    thresholds = np.array([probabilities[labels == c, c].mean() for c in range(classes)])
    self_confidence = probabilities[np.arange(len(labels)), labels]
    confident = probabilities >= thresholds  # class k is confidently predicted for the row
    confident[np.arange(len(labels)), labels] = False
    others = np.where(confident, probabilities, -np.inf)
    suggested = others.argmax(axis=1)
    suspect = (self_confidence < thresholds[labels]) & confident.any(axis=1)
    rows = np.flatnonzero(suspect)
    relative = self_confidence[rows] / np.maximum(thresholds[labels[rows]], 1e-12)
    return rows, suggested[rows], relative


def find_label_issues(features: np.ndarray, labels: np.ndarray, *, seed: int) -> LabelSuspects | None:
    """Suspects among ``labels`` (class indices, or a 0/1 matrix for multilabel); None when the
    labels cannot be cross-validated (a class with fewer than two rows)."""
    if labels.ndim == 1:
        encoded = np.unique(labels, return_inverse=True)
        present, index = encoded[0], encoded[1]
        probabilities = _out_of_fold(features, index, seed)
        if probabilities is None:
            return None
        rows, suggested, score = _confident_suspects(probabilities, index)
        order = np.argsort(score, kind="stable")
        accuracy = float((probabilities.argmax(axis=1) == index).mean())
        return LabelSuspects(rows[order], labels[rows[order]], present[suggested[order]], score[order], accuracy)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    accuracies = []
    for column in range(labels.shape[1]):
        values = labels[:, column].astype(np.int64)
        probabilities = _out_of_fold(features, values, seed)
        if probabilities is None:
            continue
        rows, suggested, score = _confident_suspects(probabilities, values)
        found.append((rows, suggested, score, np.full(len(rows), column)))
        accuracies.append(float((probabilities.argmax(axis=1) == values).mean()))
    if not found:
        return None
    rows, suggested, score, columns = (np.concatenate(parts) for parts in zip(*found, strict=True))
    order = np.argsort(score, kind="stable")
    given = labels[rows[order], columns[order]]
    return LabelSuspects(rows[order], given, suggested[order], score[order], float(np.mean(accuracies)), columns[order])
