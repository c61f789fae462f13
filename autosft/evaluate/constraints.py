"""Constraints on trials: their values from a trial's scores, and which trials may be selected.

A study's ``constraints`` (and ``reference.max_drop``) bound a validation metric or a per-trial
extra score (:data:`~autosft.attrs.EXTRA_METRICS_ATTR`). Each finished trial gets one Optuna
constraint per bound (``trial.set_constraint``, Optuna 5), keyed by the bound itself
(``recall >= 0.6``): Optuna's TPE, GP and NSGA-II samplers read them from the trial and steer away
from infeasible regions, and every selection autosft makes (best, seed-robust selection, export,
report, warm start) skips a trial whose constraints are not all met. Torch-free: `validate` and
`status` import it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from autosft.attrs import EXTRA_METRICS_ATTR
from autosft.config import ConstraintConfig

if TYPE_CHECKING:
    import optuna

__all__ = [
    "REFERENCE_DROP",
    "RETAINED_PREFIX",
    "UNDEFINED_VIOLATION",
    "constraint_values",
    "extra_metrics",
    "is_feasible",
    "violations",
]

#: ``retained_<metric>``: a metric of the trial's model on the reference dataset's validation rows.
RETAINED_PREFIX = "retained_"
#: How much the objective metric on the reference fell from the pre-trained model's (positive: worse).
REFERENCE_DROP = "reference_drop"
#: The violation recorded for a bound on a metric the trial could not score (NaN, missing): infeasible,
#: by the width of a [0, 1] metric, since Optuna takes no NaN and infinities break the GP sampler.
UNDEFINED_VIOLATION = 1.0


def constraint_values(
    constraints: Sequence[ConstraintConfig], metrics: Mapping[str, float | None], extra: Mapping[str, float | None]
) -> dict[str, float]:
    """Each bound's Optuna constraint value (feasible when <= 0), read from the trial's validation
    ``metrics`` and its ``extra`` scores."""
    values: dict[str, float] = {}
    for constraint in constraints:
        value = extra.get(constraint.metric, metrics.get(constraint.metric))
        if isinstance(value, int | float) and math.isfinite(value):
            values[constraint.key] = constraint.violation(float(value))
        else:
            values[constraint.key] = UNDEFINED_VIOLATION
    return values


def extra_metrics(trial: optuna.trial.FrozenTrial | optuna.Trial) -> dict[str, float | None]:
    """The trial's extra scores (retained performance, worst slices), ``{}`` without any."""
    extra = trial.user_attrs.get(EXTRA_METRICS_ATTR)
    return dict(extra) if isinstance(extra, dict) else {}


def is_feasible(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether every constraint of ``trial`` is met; a trial without constraints is feasible."""
    return all(value <= 0 for value in trial.constraints.values())


def violations(trial: optuna.trial.FrozenTrial) -> list[str]:
    """The bounds ``trial`` misses, each with by how much: ``reference_drop <= 0.02 (missed by 0.0431)``."""
    return [f"{key} (missed by {value:.4g})" for key, value in trial.constraints.items() if value > 0]
