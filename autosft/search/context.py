"""What the trial lifecycle hooks see: the trial's context and its result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from autosft.config import StudyConfig
from autosft.search.plan import TrialPlan

__all__ = ["TrialContext", "TrialResult", "json_safe"]


@dataclass(frozen=True)
class TrialContext:
    """One running trial, as observers (loggers, trackers) see it."""

    study_name: str
    trial_number: int
    plan: TrialPlan
    study: StudyConfig
    device: str


@dataclass
class TrialResult:
    """What a trial trained to: objective values at its best epoch and how it got there."""

    values: list[float]
    best_epoch: int
    epochs_run: int
    metrics: dict[str, float]
    history: list[dict[str, float]]
    timings: dict[str, float]
    trainable_parameters: int
    total_parameters: int
    stopped_early: bool
    notes: list[str] = field(default_factory=list)

    def as_user_attrs(self) -> dict[str, Any]:
        """The JSON-safe record stored on the Optuna trial."""
        return {
            "metrics": self.metrics,
            "best_epoch": self.best_epoch,
            "epochs_run": self.epochs_run,
            "history": self.history,
            "timings": self.timings,
            "trainable_parameters": self.trainable_parameters,
            "total_parameters": self.total_parameters,
            "stopped_early": self.stopped_early,
            "notes": self.notes,
        }


def json_safe(values: Mapping[str, Any]) -> dict[str, Any]:
    """Floats rounded for storage; NaN and infinities become ``None`` (JSON has neither)."""
    safe: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, float):
            safe[key] = round(value, 6) if value == value and abs(value) != float("inf") else None
        else:
            safe[key] = value
    return safe
