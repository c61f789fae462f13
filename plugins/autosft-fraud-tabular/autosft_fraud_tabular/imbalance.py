"""Resampling imbalance strategies for tabular inputs, built on imbalanced-learn.

Each strategy rewrites the training split once per trial (never the validation or test split).
SMOTE-family methods interpolate between preprocessed rows, so one-hot columns of synthetic rows
may hold fractions; the MLP takes that in its stride, and it keeps every method on one input form.
Small minority classes are handled instead of crashing the trial: fewer neighbours, or a fallback
to a simpler method, each with a logged warning.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from autosft import ConfigError, DataSplit, ImbalanceStrategy

__all__ = [
    "STRATEGIES",
    "ADASYNStrategy",
    "RandomOverStrategy",
    "RandomUnderStrategy",
    "SMOTEStrategy",
    "SMOTETomekStrategy",
]

logger = logging.getLogger(__name__)

#: imbalanced-learn's default neighbour count for SMOTE and ADASYN.
NEIGHBOURS = 5


class _Resampler(ImbalanceStrategy):
    """Shared checks and conversion: 2-D float inputs in, a new float32 split out."""

    input_kinds: ClassVar[frozenset[str] | None] = frozenset({"tabular"})

    def resample(self, split: DataSplit, *, seed: int) -> DataSplit:
        if isinstance(split.inputs, Mapping) or np.ndim(split.inputs) != 2:
            raise ConfigError(f"imbalance strategy {self.name!r} needs 2-D tabular inputs")
        inputs = np.asarray(split.inputs, dtype=np.float32)
        labels = np.asarray(split.labels, dtype=np.int64)
        counts = np.bincount(labels)
        present = counts[counts > 0]
        if len(present) < 2:
            logger.warning("%s: the training split has a single class; leaving it unchanged", self.name)
            return split
        sampled_inputs, sampled_labels = self._fit_resample(inputs, labels, int(present.min()), seed)
        return DataSplit(np.asarray(sampled_inputs, dtype=np.float32), np.asarray(sampled_labels, dtype=np.int64))

    def _fit_resample(self, inputs: np.ndarray, labels: np.ndarray, smallest: int, seed: int) -> tuple[Any, Any]:
        raise NotImplementedError


class RandomOverStrategy(_Resampler):
    name: ClassVar[str] = "random_over"
    description: ClassVar[str] = "duplicate random minority rows until classes are balanced (imbalanced-learn)"

    def _fit_resample(self, inputs: np.ndarray, labels: np.ndarray, smallest: int, seed: int) -> tuple[Any, Any]:
        return _random_over(inputs, labels, seed)


class RandomUnderStrategy(_Resampler):
    name: ClassVar[str] = "random_under"
    description: ClassVar[str] = "drop random majority rows until classes are balanced (imbalanced-learn)"

    def _fit_resample(self, inputs: np.ndarray, labels: np.ndarray, smallest: int, seed: int) -> tuple[Any, Any]:
        from imblearn.under_sampling import RandomUnderSampler

        return RandomUnderSampler(random_state=seed).fit_resample(inputs, labels)


class SMOTEStrategy(_Resampler):
    name: ClassVar[str] = "smote"
    description: ClassVar[str] = "synthesize minority rows between minority neighbours (SMOTE)"

    def _fit_resample(self, inputs: np.ndarray, labels: np.ndarray, smallest: int, seed: int) -> tuple[Any, Any]:
        return _smote(inputs, labels, smallest, seed, self.name)


class ADASYNStrategy(_Resampler):
    name: ClassVar[str] = "adasyn"
    description: ClassVar[str] = "synthesize more minority rows where the majority crowds them (ADASYN)"

    def _fit_resample(self, inputs: np.ndarray, labels: np.ndarray, smallest: int, seed: int) -> tuple[Any, Any]:
        from imblearn.over_sampling import ADASYN

        neighbours = _neighbours(smallest)
        if neighbours is None:
            logger.warning("adasyn: a minority class has a single row; falling back to random oversampling")
            return _random_over(inputs, labels, seed)
        try:
            return ADASYN(n_neighbors=neighbours, random_state=seed).fit_resample(inputs, labels)
        except (ValueError, RuntimeError) as error:
            # ADASYN refuses when no minority row has a majority neighbour (nothing to adapt to).
            logger.warning("adasyn: %s; falling back to SMOTE", str(error).strip().splitlines()[0])
            return _smote(inputs, labels, smallest, seed, self.name)


class SMOTETomekStrategy(_Resampler):
    name: ClassVar[str] = "smote_tomek"
    description: ClassVar[str] = "SMOTE, then remove Tomek links to clean the class border"

    def _fit_resample(self, inputs: np.ndarray, labels: np.ndarray, smallest: int, seed: int) -> tuple[Any, Any]:
        from imblearn.combine import SMOTETomek
        from imblearn.over_sampling import SMOTE

        neighbours = _neighbours(smallest)
        if neighbours is None:
            logger.warning("smote_tomek: a minority class has a single row; falling back to random oversampling")
            return _random_over(inputs, labels, seed)
        smote = SMOTE(k_neighbors=neighbours, random_state=seed)
        return SMOTETomek(smote=smote, random_state=seed).fit_resample(inputs, labels)


def _neighbours(smallest: int) -> int | None:
    """Neighbours a SMOTE-family method can use when the smallest class has ``smallest`` rows.

    The k nearest neighbours must exist inside the class, so k is at most ``smallest - 1``;
    ``None`` means no neighbour exists at all.
    """
    if smallest < 2:
        return None
    if smallest - 1 < NEIGHBOURS:
        logger.warning(
            "smallest class has %d rows; using %d neighbours instead of %d",
            smallest,
            smallest - 1,
            NEIGHBOURS,
        )
    return min(NEIGHBOURS, smallest - 1)


def _smote(inputs: np.ndarray, labels: np.ndarray, smallest: int, seed: int, name: str) -> tuple[Any, Any]:
    from imblearn.over_sampling import SMOTE

    neighbours = _neighbours(smallest)
    if neighbours is None:
        logger.warning("%s: a minority class has a single row; falling back to random oversampling", name)
        return _random_over(inputs, labels, seed)
    return SMOTE(k_neighbors=neighbours, random_state=seed).fit_resample(inputs, labels)


def _random_over(inputs: np.ndarray, labels: np.ndarray, seed: int) -> tuple[Any, Any]:
    from imblearn.over_sampling import RandomOverSampler

    return RandomOverSampler(random_state=seed).fit_resample(inputs, labels)


#: Every strategy this plugin registers, in registration order.
STRATEGIES: tuple[type[ImbalanceStrategy], ...] = (
    RandomOverStrategy,
    RandomUnderStrategy,
    SMOTEStrategy,
    ADASYNStrategy,
    SMOTETomekStrategy,
)
