"""What one training run is given and what it gives back: the job, its objectives, the trained model.

Its own module so that the loop (:mod:`autosft.engine.loop`) and the frozen-prefix cache
(:mod:`autosft.engine.prefix`), which both read a job, need not import each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from autosft.components import Augmentation, BuiltModel, ImbalanceStrategy, LossFunction, Metric, Splits
from autosft.contracts import TrialPlan, TrialResult
from autosft.engine.device import DeviceSetup

__all__ = ["EpochCallback", "Objective", "TrainedModel", "TrainingJob"]

EpochCallback = Callable[[int, Mapping[str, float]], None]


@dataclass(frozen=True)
class Objective:
    metric: str
    direction: str

    def better(self, value: float, best: float | None) -> bool:
        if math.isnan(value):
            return False
        if best is None:
            return True
        return value > best if self.direction == "maximize" else value < best


@dataclass
class TrainingJob:
    """What one training run needs: data, a fresh model, the plan and the chosen strategies.

    ``loss`` is the model builder's training loss for the plan (``ModelBuilder.training_loss``);
    ``None`` trains with the task's cross-entropy.
    """

    splits: Splits
    built: BuiltModel
    plan: TrialPlan
    imbalance: ImbalanceStrategy
    augmentation: Augmentation | None
    metrics: Sequence[Metric]
    objectives: Sequence[Objective]
    device: DeviceSetup
    #: The model builder's loss for this plan, if it has one (``ModelBuilder.training_loss``).
    loss: LossFunction | None = None
    #: Train on cached activations of frozen layer groups when the plan allows (see engine.prefix).
    cache_activations: bool = True
    #: Micro-batches per batch: gradients of each are accumulated before one optimizer step, so the
    #: effective batch stays ``plan.batch_size`` while peak memory shrinks (see engine.memory).
    accumulation: int = 1
    #: Scores of the validation probabilities merged into each epoch's metrics (e.g. the worst slice
    #: per metric; see :attr:`autosft.engine.prepared.PreparedStudy.extra_scores`).
    extra_scores: Callable[[np.ndarray], dict[str, float]] | None = None


@dataclass
class TrainedModel:
    """The result and, when asked for, the module restored to its best epoch."""

    result: TrialResult
    module: torch.nn.Module
