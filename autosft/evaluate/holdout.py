"""The one look at the test split: retrain the selected configuration and score it on test.

Selection used validation scores only; the test split is touched here, once, after the search,
so the number reported is an honest estimate of the chosen configuration.
"""

from __future__ import annotations

import time
from typing import Any

import optuna

from autosft.attrs import FINAL_TEST_ATTR
from autosft.contracts import json_safe
from autosft.engine.device import DeviceSetup
from autosft.engine.prepared import PreparedStudy
from autosft.engine.scoring import score
from autosft.errors import ConfigError
from autosft.evaluate.constraints import is_feasible
from autosft.evaluate.references import FittedReferences, score_on_test
from autosft.evaluate.refit import refit
from autosft.evaluate.selection import SELECTION_ATTR, rerun_tag
from autosft.evaluate.slices import model_slices

__all__ = ["FINAL_TEST_ATTR", "evaluate_on_test", "has_selectable_trial", "selected_trial"]


def selected_trial(study: optuna.Study) -> optuna.trial.FrozenTrial:
    """The selected configuration's trial: the seed-robust choice when the study has one, else the
    best complete trial the search proposed (for several objectives, the first of the Pareto front).

    Seed re-runs (:mod:`autosft.evaluate.selection`) never stand for themselves: a lucky re-run
    seed is exactly the noise that selection by mean averages out. Nor is an infeasible trial (one
    that misses a constraint, :mod:`autosft.evaluate.constraints`) ever selected.
    """
    trials = study.get_trials(deepcopy=False)
    record = study.user_attrs.get(SELECTION_ATTR)
    if isinstance(record, dict) and record.get("selected_trial") is not None:
        return trials[record["selected_trial"]]
    finished = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and rerun_tag(t) is None]
    if not finished:
        raise ConfigError(f"study {study.study_name!r} has no complete trial yet")
    complete = [t for t in finished if is_feasible(t)]
    if not complete:
        raise ConfigError(
            f"study {study.study_name!r} has no feasible trial: all {len(finished)} complete trial(s) miss a "
            "constraint (see `autosft status`); loosen the constraints or search more"
        )
    if len(study.directions) > 1:
        front = [t for t in study.best_trials if rerun_tag(t) is None and is_feasible(t)]
        return front[0] if front else complete[0]
    sign = -1 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1
    return min(complete, key=lambda trial: (sign * trial.values[0], trial.number))


def has_selectable_trial(study: optuna.Study) -> bool:
    """Whether :func:`selected_trial` has a trial to return: a complete, feasible one."""
    try:
        selected_trial(study)
    except ConfigError:
        return False
    return True


def evaluate_on_test(
    prepared: PreparedStudy,
    trial: optuna.trial.FrozenTrial,
    device: DeviceSetup,
    *,
    references: tuple[dict[str, Any], FittedReferences] | None = None,
) -> dict[str, Any]:
    """Retrain ``trial``'s plan with its seed, restore its best epoch, and score the test split;
    with ``references`` (their validation record and fitted models), score them on test beside it."""
    started = time.perf_counter()
    retrained = refit(prepared, trial, device, "train")
    compared = None
    if references is not None:
        record, fitted = references
        compared = score_on_test(prepared, record, retrained.test_probabilities, "train", fitted=fitted)
    return {
        "references": compared,
        "slices": model_slices(prepared, retrained.module, retrained.test_probabilities, device, trial=trial.number),
        "trial": trial.number,
        "test_metrics": json_safe(score(prepared.metrics, prepared.splits.test.labels, retrained.test_probabilities)),
        "retrain_val_metrics": json_safe(retrained.result.metrics),
        "best_epoch": retrained.result.best_epoch,
        "test_rows": len(prepared.splits.test),
        "seconds": round(time.perf_counter() - started, 3),
    }
