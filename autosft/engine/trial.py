"""Training one plan of a prepared study: the entry point that trials and the final refit share.

In the engine layer so that the evaluation (:mod:`autosft.evaluate.refit`) retrains a selected
trial exactly the way the search trained it, without importing the search.
"""

from __future__ import annotations

import dataclasses

from autosft.components import Splits
from autosft.contracts import TrialPlan
from autosft.engine.device import DeviceSetup
from autosft.engine.job import EpochCallback, Objective, TrainedModel, TrainingJob
from autosft.engine.loop import train
from autosft.engine.memory import retry_out_of_memory
from autosft.engine.prepared import PreparedStudy

__all__ = ["study_objectives", "train_plan", "training_job"]


def study_objectives(prepared: PreparedStudy) -> list[Objective]:
    """What a trial is judged by, in order: each objective's key among an epoch's metrics, and its direction."""
    return [Objective(key, way) for key, way in zip(prepared.objective_keys, prepared.directions, strict=True)]


def training_job(
    prepared: PreparedStudy, plan: TrialPlan, device: DeviceSetup, *, accumulation: int = 1
) -> TrainingJob:
    """A training job for ``plan`` with a freshly built model and the builder's loss for it, in
    ``accumulation`` micro-batches per batch."""
    return TrainingJob(
        splits=prepared.splits,
        built=prepared.build_model(plan),
        plan=plan,
        imbalance=prepared.registry.imbalance.get(plan.imbalance),
        augmentation=prepared.augmentation(plan),
        metrics=prepared.metrics,
        objectives=study_objectives(prepared),
        device=device,
        loss=prepared.builder.training_loss(prepared.model_options, prepared.splits, plan, device=device.device),
        accumulation=accumulation,
        extra_scores=prepared.extra_scores,
    )


def train_plan(
    prepared: PreparedStudy,
    plan: TrialPlan,
    device: DeviceSetup,
    *,
    on_epoch: EpochCallback | None = None,
    restore_best: bool = False,
    splits: Splits | None = None,
) -> TrainedModel:
    """Train ``plan`` on a fresh model (on ``splits`` instead of the study's when given); out of
    GPU memory, again in smaller micro-batches.

    ``on_epoch`` may then see an epoch again: the retry starts over from epoch 1.
    """
    notes: list[str] = []

    def attempt(accumulation: int) -> TrainedModel:
        job = training_job(prepared, plan, device, accumulation=accumulation)
        if splits is not None:
            job = dataclasses.replace(job, splits=splits)
        return train(job, on_epoch=on_epoch, restore_best=restore_best)

    trained = retry_out_of_memory(attempt, batch_size=plan.batch_size, notes=notes)
    trained.result.notes[:0] = notes
    return trained
