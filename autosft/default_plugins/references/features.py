"""scikit-learn references on fixed features: the study's table, downscaled pixels, TF-IDF of raw texts.

Each pairs a feature map with an estimator. Tabular and image inputs are scored by a scaled
logistic regression and by histogram gradient-boosted trees, the references a tabular model has to
beat; texts by TF-IDF of word uni- and bigrams (sublinear term frequency) with a logistic
regression, on the loader's texts before any tokenizer. On skewed classes
(:func:`~autosft.components.is_skewed`) every estimator weights them, as the search's first trial
does: at the argmax an unweighted logistic regression rarely predicts a rare class, and its F1
(0.51 instead of 0.93 on SMS spam) would flatter whatever is compared with it. Every estimator is
bounded (iterations, features, and the runner's row cap), so a reference costs seconds.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np

from autosft.components import DataSplit, is_skewed
from autosft.references.base import Predict, Reference, ReferenceData

__all__ = [
    "FeatureReference", "ImageBoosting", "ImageLogistic", "TabularBoosting", "TabularLogistic", "TfidfLogistic",
]  # fmt: skip

#: Images are averaged down to at most this many pixels a side before the estimators see them.
IMAGE_SIDE = 16
#: Rows the tabular references fit on at most (the default cap is for pixels and texts).
TABULAR_MAX_TRAIN_ROWS = 100_000
#: The TF-IDF vocabulary keeps at most this many uni- and bigrams (the most frequent).
TFIDF_FEATURES = 100_000


class FeatureReference(Reference):
    """A feature map and a scikit-learn classifier with ``predict_proba``."""

    @abstractmethod
    def estimator(self, seed: int, class_weight: str | None) -> Any:
        """A fresh, unfitted scikit-learn classifier (or pipeline), weighting classes by ``class_weight``."""

    def features(self, inputs: Any) -> Any:
        """What the estimator sees of a split's inputs; the inputs themselves by default."""
        return np.asarray(inputs, dtype=np.float64)

    def skip_reason(self, data: ReferenceData) -> str | None:
        if len(np.unique(data.train.labels)) < 2:
            return "the training rows hold a single class"
        return None

    def fit(self, data: ReferenceData) -> Predict:
        skewed = data.splits.task in ("binary", "multiclass") and is_skewed(data.train.labels, data.splits.num_classes)
        estimator = self.estimator(data.seed, "balanced" if skewed else None)
        estimator.fit(self.features(data.train.inputs), data.train.labels)
        columns = np.asarray(estimator.classes_, dtype=np.int64)
        num_classes = data.splits.num_classes

        def predict(split: DataSplit) -> np.ndarray:
            # Classes absent from the training rows get probability 0, in the study's class order.
            probabilities = np.zeros((len(split), num_classes))
            probabilities[:, columns] = estimator.predict_proba(self.features(split.inputs))
            return probabilities

        return predict


class _Tabular(FeatureReference):
    input_kinds: ClassVar[frozenset[str] | None] = frozenset({"tabular"})
    #: Tables fit fast (adult census' 29,305 rows x 100 columns: seconds), and a reference that sees
    #: fewer rows than the model would understate what it can do.
    max_train_rows: ClassVar[int] = TABULAR_MAX_TRAIN_ROWS

    def skip_reason(self, data: ReferenceData) -> str | None:
        if np.ndim(data.train.inputs) != 2:
            return f"needs a 2-D feature table, but the inputs have {np.ndim(data.train.inputs)} dimensions"
        return super().skip_reason(data)


def _logistic(seed: int, class_weight: str | None) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=1000, class_weight=class_weight, random_state=seed)
    )


def _boosting(seed: int, class_weight: str | None) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=200, early_stopping="auto", class_weight=class_weight, random_state=seed
    )


class TabularLogistic(_Tabular):
    name: ClassVar[str] = "logistic_regression"
    description: ClassVar[str] = "standardized features, scikit-learn LogisticRegression"

    def estimator(self, seed: int, class_weight: str | None) -> Any:
        return _logistic(seed, class_weight)


class TabularBoosting(_Tabular):
    name: ClassVar[str] = "hist_gradient_boosting"
    description: ClassVar[str] = "scikit-learn HistGradientBoostingClassifier on the features"

    def estimator(self, seed: int, class_weight: str | None) -> Any:
        return _boosting(seed, class_weight)


class _Image(FeatureReference):
    input_kinds: ClassVar[frozenset[str] | None] = frozenset({"image"})

    def skip_reason(self, data: ReferenceData) -> str | None:
        dimensions = np.ndim(data.train.inputs)
        if dimensions != 4:
            return f"needs (rows, channels, height, width) images, but the inputs have {dimensions} dimensions"
        return super().skip_reason(data)

    def features(self, inputs: Any) -> Any:
        """Block averages to at most :data:`IMAGE_SIDE` pixels a side, flattened."""
        import torch

        images = torch.as_tensor(np.asarray(inputs, dtype=np.float32))
        side = (min(IMAGE_SIDE, images.shape[2]), min(IMAGE_SIDE, images.shape[3]))
        pooled = torch.nn.functional.adaptive_avg_pool2d(images, side)
        return pooled.flatten(1).double().numpy()


class ImageLogistic(_Image):
    name: ClassVar[str] = "pixels_logistic_regression"
    description: ClassVar[str] = f"pixels averaged to {IMAGE_SIDE}x{IMAGE_SIDE}, standardized, LogisticRegression"

    def estimator(self, seed: int, class_weight: str | None) -> Any:
        return _logistic(seed, class_weight)


class ImageBoosting(_Image):
    name: ClassVar[str] = "pixels_hist_gradient_boosting"
    description: ClassVar[str] = f"pixels averaged to {IMAGE_SIDE}x{IMAGE_SIDE}, HistGradientBoostingClassifier"

    def estimator(self, seed: int, class_weight: str | None) -> Any:
        return _boosting(seed, class_weight)


class TfidfLogistic(FeatureReference):
    name: ClassVar[str] = "tfidf_logistic_regression"
    description: ClassVar[str] = "TF-IDF of word 1-2 grams (sublinear tf) on the raw texts, LogisticRegression"
    input_kinds: ClassVar[frozenset[str] | None] = frozenset({"text"})
    raw_inputs: ClassVar[bool] = True

    def skip_reason(self, data: ReferenceData) -> str | None:
        inputs = data.train.inputs
        if not len(inputs) or not isinstance(np.asarray(inputs, dtype=object)[0], str):
            return "needs the loader's raw texts, but the inputs are not strings"
        return super().skip_reason(data)

    def features(self, inputs: Any) -> Any:
        return [str(text) for text in inputs]

    def estimator(self, seed: int, class_weight: str | None) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=TFIDF_FEATURES)
        return make_pipeline(
            vectorizer, LogisticRegression(max_iter=1000, class_weight=class_weight, random_state=seed)
        )
