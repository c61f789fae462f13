"""The final retrain of a selected trial, on train or on train+val, and its predictions on test.

``train`` retrains exactly what the trial ran (same plan, same seed, early stopping on
validation) and keeps its best epoch: the model the search measured. ``train+val`` also learns
from the validation rows, which small datasets need; validation can then no longer pick an epoch,
so the run trains for the trial's best epoch count, fixed, with early stopping off.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import optuna
import torch

from autosft.components import Splits
from autosft.contracts import TrialPlan, TrialResult
from autosft.engine.data import to_device_split
from autosft.engine.device import DeviceSetup
from autosft.engine.loop import predict_logits, probabilities
from autosft.engine.prepared import PreparedStudy
from autosft.engine.trial import train_plan
from autosft.errors import ConfigError, DataError
from autosft.evaluate.folds import concatenated

__all__ = ["REFIT_MODES", "Refit", "RefitMode", "refit", "with_validation_in_train"]

RefitMode = Literal["train", "train+val"]
REFIT_MODES: tuple[str, ...] = get_args(RefitMode)


@dataclass
class Refit:
    """A retrained model, what it trained with, and its test-split logits and probabilities."""

    module: torch.nn.Module
    plan: TrialPlan
    mode: RefitMode
    result: TrialResult
    test_logits: torch.Tensor
    test_probabilities: np.ndarray
    train_seconds: float
    predict_seconds: float


def refit(prepared: PreparedStudy, trial: optuna.trial.FrozenTrial, device: DeviceSetup, mode: RefitMode) -> Refit:
    """Retrain ``trial``'s plan per ``mode`` and predict the test split once."""
    if mode not in REFIT_MODES:
        raise ConfigError(f"refit must be one of {', '.join(REFIT_MODES)}, but got {mode!r}")
    if "plan" not in trial.user_attrs:
        raise ConfigError(f"trial {trial.number} has no stored plan: it was not run by autosft")
    if len(prepared.splits.test) == 0:
        raise DataError(f"dataset {prepared.config.dataset.name!r} gives an empty test split: nothing to test on")
    plan = TrialPlan(**trial.user_attrs["plan"])
    splits = None
    if mode == "train+val":
        epochs = int(trial.user_attrs.get("best_epoch") or plan.epochs)
        # patience = epochs: the loop stops after `patience` epochs without progress, so never before the end.
        plan = dataclasses.replace(plan, epochs=epochs, patience=epochs)
        splits = with_validation_in_train(prepared.splits)
    started = time.perf_counter()
    trained = train_plan(prepared, plan, device, restore_best=mode == "train", splits=splits)
    tick = time.perf_counter()
    logits = predict_logits(trained.module, to_device_split(prepared.splits.test, device.device), device)
    return Refit(trained.module, plan, mode, trained.result, logits, probabilities(logits, prepared.splits.task),
                 tick - started, time.perf_counter() - tick)  # fmt: skip


def with_validation_in_train(splits: Splits) -> Splits:
    """The splits with the validation rows appended to train (validation itself is kept for the loop)."""
    return dataclasses.replace(splits, train=concatenated(splits.train, splits.val))
