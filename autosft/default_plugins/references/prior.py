"""The class prior: every row gets the training split's class frequencies.

The floor any model must clear: it scores 0.5 ROC-AUC, the positive rate as PR-AUC, and the
majority class's accuracy, whatever the inputs are.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from autosft.components import DataSplit, class_counts
from autosft.references.base import Predict, Reference, ReferenceData

__all__ = ["ClassPrior"]


class ClassPrior(Reference):
    name: ClassVar[str] = "class_prior"
    description: ClassVar[str] = "predicts the training split's class frequencies for every row (majority class)"

    def fit(self, data: ReferenceData) -> Predict:
        counts = class_counts(data.train.labels, data.splits.num_classes).astype(np.float64)
        prior = counts / max(counts.sum(), 1.0)

        def predict(split: DataSplit) -> np.ndarray:
            return np.tile(prior, (len(split), 1))

        return predict
