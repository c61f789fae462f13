"""What every layer and every plugin share about a trial: its plan, its context and its result.

The bottom of autosft's layers (see ``docs/architecture.md``): this module imports only the study
file's schema (:mod:`autosft.config`) and the standard library, so the engine, the evaluation, the
search and the plugins can all build on it without importing one another. The names of the
built-in search dimensions are the fields of :class:`TrialPlan`, written once, here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from autosft.config import StudyConfig

__all__ = [
    "BUILTIN_DIMENSIONS",
    "LORA_LEARNING_RATE",
    "TrialContext",
    "TrialPlan",
    "TrialResult",
    "json_safe",
]


@dataclass(frozen=True)
class TrialPlan:
    """Everything one trial trains with: the sampled values, fixed ones and plugin extras.

    Each field but ``seed`` and ``extra`` is a built-in search dimension of the same name.
    """

    learning_rate: float
    batch_size: int
    epochs: int
    warmup_ratio: float
    weight_decay: float
    dropout: float
    label_smoothing: float
    patience: int
    adaptation: str
    freeze_depth: int = 0
    unfreeze_every: int = 0
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_targets: str = ""
    imbalance: str = "none"
    augmentation: str = "none"
    augmentation_strength: float = 0.0
    seed: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_values(cls, values: Mapping[str, Any], *, seed: int) -> TrialPlan:
        """Build a plan from sampled values; LoRA trials take their rate from ``lora_learning_rate``."""
        known = {name: values[name] for name in BUILTIN_DIMENSIONS if name in values}
        if known.get("adaptation") == "lora":
            known["learning_rate"] = known.pop(LORA_LEARNING_RATE)
        known.pop(LORA_LEARNING_RATE, None)
        extra = {name: value for name, value in values.items() if name not in BUILTIN_DIMENSIONS}
        return cls(**known, seed=seed, extra=extra)

    def as_dict(self) -> dict[str, Any]:
        plan = asdict(self)
        plan["extra"] = dict(self.extra)
        return plan


#: LoRA's learning rate is searched as its own dimension (its prior sits higher) and becomes the
#: plan's ``learning_rate`` in LoRA trials.
LORA_LEARNING_RATE = "lora_learning_rate"
#: Names of the built-in search dimensions; every other sampled value reaches ``TrialPlan.extra``.
BUILTIN_DIMENSIONS: tuple[str, ...] = (
    *(plan_field.name for plan_field in fields(TrialPlan) if plan_field.name not in ("seed", "extra")),
    LORA_LEARNING_RATE,
)


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
