"""A study ready to run trials: what the engine trains from, built once per process by
:func:`autosft.search.prepare.prepare_study`.

It lives in the engine layer because training a plan (:mod:`autosft.engine.trial`) and the final
refit (:mod:`autosft.evaluate.refit`) both read it, and neither may import the search layer that
builds it. Torch-free, so preparing a study for ``autosft validate`` stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pluggy
from pydantic import BaseModel

from autosft.attrs import WORST_SLICE_PREFIX
from autosft.components import Augmentation, BuiltModel, Metric, ModelBuilder, Splits
from autosft.config import Direction, StudyConfig
from autosft.contracts import TrialPlan
from autosft.registry import Registry
from autosft.space import SearchSpace

__all__ = ["PreparedStudy"]


@dataclass
class PreparedStudy:
    """A study ready to run trials: its data, model builder, space and scoring."""

    config: StudyConfig
    manager: pluggy.PluginManager
    registry: Registry
    splits: Splits
    builder: ModelBuilder
    model_options: BaseModel
    space: SearchSpace
    metrics: list[Metric]
    directions: list[Direction]
    #: The cheap first trial's params (:func:`~autosft.search.plan.quick_look_params`), if the study has one.
    quick_look: dict[str, Any] | None = None
    #: Scores of validation probabilities beyond the metrics, merged into every epoch's metrics: with
    #: ``slices``, the worst slice per metric (:func:`autosft.evaluate.slices.worst_slice_scorer`).
    extra_scores: Callable[[np.ndarray], dict[str, float]] | None = None
    #: The ``reference`` dataset, encoded like ``splits``; ``None`` for a study without one.
    reference: Splits | None = None
    #: With ``validation.folds``, the cross-validation folds each trial trains on, one model per fold
    #: (:func:`~autosft.evaluate.folds.cross_validation_folds`); empty: trials score on ``splits.val``.
    folds: tuple[Splits, ...] = ()
    #: Whether the model starts from pre-trained weights (``BuiltModel.pretrained``), not random ones.
    pretrained: bool = True

    def build_model(self, plan: TrialPlan) -> BuiltModel:
        return self.builder.build(self.model_options, self.splits, seed=plan.seed)

    def augmentation(self, plan: TrialPlan) -> Augmentation | None:
        return None if plan.augmentation == "none" else self.registry.augmentations.get(plan.augmentation)

    @property
    def objective_metrics(self) -> list[str]:
        return [objective.metric for objective in self.config.objectives]

    @property
    def objective_keys(self) -> list[str]:
        """The names, among an epoch's metrics, that the objective values are read from: the metric
        itself, or for ``aggregate: worst_slice`` its worst validation slice (``worst_slice_<metric>``)."""
        return [WORST_SLICE_PREFIX + o.metric if o.aggregate == "worst_slice" else o.metric
                for o in self.config.objectives]  # fmt: skip
