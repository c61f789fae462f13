"""The contract of a reference: a well-known model that fits in seconds, read beside every study.

A fine-tuned model is only worth its search if it beats the obvious alternatives on the same
rows: the class prior, a linear model or gradient-boosted trees on the same features, TF-IDF on
the same texts, the pre-trained model as it is. A :class:`Reference` fits on the rows it is given
and returns a function that predicts class probabilities (or item scores, for ranking) for any
split, so the runner (:mod:`autosft.evaluate.references`) can score it with the study's own metrics on
validation, and later, refitted like the chosen trial, once on test.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from pydantic import BaseModel

from autosft.components import DataSplit, ModelBuilder, Splits

__all__ = ["DEFAULT_MAX_TRAIN_ROWS", "Predict", "Reference", "ReferenceData"]

#: Rows a reference fits on at most (a seeded sample beyond it), so none dominates a study's time.
DEFAULT_MAX_TRAIN_ROWS = 20_000

#: ``predict(split) -> (rows, classes)`` probabilities or scores, higher meaning more likely.
Predict = Callable[[DataSplit], np.ndarray]


@dataclass(frozen=True)
class ReferenceData:
    """What a reference fits on.

    ``splits`` are the study's splits as the model sees them (after its input encoder), for the
    task, the classes and the pre-training population; a reference never reads their ``test``.
    ``train`` holds the rows to fit on: the training split, or train+val for a final test refitted
    like a ``train+val`` export, at most :attr:`Reference.max_train_rows` of them; its inputs are
    the loader's raw ones (e.g. texts) when the reference asks for them (:attr:`Reference.raw_inputs`).
    ``builder`` and ``model_options`` are the study's model, for references built from it.
    """

    splits: Splits
    train: DataSplit
    builder: ModelBuilder
    model_options: BaseModel
    seed: int


class Reference(ABC):
    """A named reference model; plugins register instances through ``autosft_register_references``."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: Input kinds (``Splits.input_kind``) it understands; ``None`` means any.
    input_kinds: ClassVar[frozenset[str] | None] = None
    #: Task types it predicts.
    task_types: ClassVar[frozenset[str]] = frozenset({"binary", "multiclass"})
    #: Whether it fits on the loader's inputs before the model's input encoder (raw texts for
    #: TF-IDF) rather than on what the model sees (token ids).
    raw_inputs: ClassVar[bool] = False
    max_train_rows: ClassVar[int] = DEFAULT_MAX_TRAIN_ROWS

    def skip_reason(self, data: ReferenceData) -> str | None:
        """Why this reference cannot run on ``data`` (one short line), or ``None`` when it can.

        Called after the input kind and the task matched; the default finds nothing in the way.
        """
        return None

    @abstractmethod
    def fit(self, data: ReferenceData) -> Predict:
        """Fit on ``data.train`` and return the predictor. An exception skips the reference with its message."""
