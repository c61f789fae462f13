"""Built-in imbalance strategies that work for any input kind: loss weighting and sampling."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from autosft.components import ImbalanceStrategy, LossFunction, TaskType
from autosft.hookspecs import hookimpl

if TYPE_CHECKING:
    import torch


def inverse_frequency(class_counts: np.ndarray) -> np.ndarray:
    """Per-class weights ``n / (k * n_c)``: 1 for a balanced problem, large for rare classes."""
    counts = np.maximum(class_counts.astype(np.float64), 1.0)
    return counts.sum() / (len(counts) * counts)


def _weights_tensor(class_counts: np.ndarray, task: TaskType, device: torch.device) -> torch.Tensor:
    import torch

    if task == "multilabel":
        # pos_weight per label: negatives over positives, the BCE analogue of inverse frequency.
        return torch.tensor(np.maximum(class_counts.sum() - class_counts, 1) / np.maximum(class_counts, 1),
                            dtype=torch.float32, device=device)  # fmt: skip
    return torch.tensor(inverse_frequency(class_counts), dtype=torch.float32, device=device)


class NoStrategy(ImbalanceStrategy):
    name = "none"
    description = "Train on the data as it is."
    task_types = frozenset({"binary", "multiclass", "multilabel"})


class ClassWeights(ImbalanceStrategy):
    name = "class_weights"
    description = "Cross-entropy weighted by inverse class frequency."
    task_types = frozenset({"binary", "multiclass", "multilabel"})

    def loss(self, *, class_counts: np.ndarray, task: TaskType, device: torch.device) -> LossFunction:
        from autosft.engine.losses import cross_entropy

        return cross_entropy(task=task, class_weights=_weights_tensor(class_counts, task, device))


class Focal(ImbalanceStrategy):
    name = "focal"
    description = "Focal loss (gamma 2) that focuses training on hard, usually rare, rows."
    task_types = frozenset({"binary", "multiclass", "multilabel"})

    def loss(self, *, class_counts: np.ndarray, task: TaskType, device: torch.device) -> LossFunction:
        from autosft.engine.losses import focal

        return focal(task=task)


class Oversample(ImbalanceStrategy):
    name = "oversample"
    description = "Batches drawn with replacement so every class is seen equally often."

    def sampling_weights(self, labels: np.ndarray) -> np.ndarray:
        counts = np.bincount(labels.astype(np.int64))
        return 1.0 / np.maximum(counts[labels.astype(np.int64)], 1)


@hookimpl(trylast=True)
def autosft_register_imbalance_strategies(register: Callable[[ImbalanceStrategy], None]) -> None:
    for strategy in (NoStrategy(), ClassWeights(), Focal(), Oversample()):
        register(strategy)
