"""The one look at the test split: retrain the selected configuration and score it on test.

Selection used validation scores only; the test split is touched here, once, after the search,
so the number reported is an honest estimate of the chosen configuration.
"""

from __future__ import annotations

import time
from typing import Any

import optuna

from autosft.engine.data import to_device_split
from autosft.engine.device import DeviceSetup
from autosft.engine.loop import predict
from autosft.errors import ConfigError
from autosft.evaluate.scoring import score
from autosft.search.context import json_safe
from autosft.search.objective import train_plan
from autosft.search.plan import TrialPlan
from autosft.search.prepare import PreparedStudy

__all__ = ["FINAL_TEST_ATTR", "evaluate_on_test", "selected_trial"]

#: Study user attribute holding the held-out test evaluation of the selected trial.
FINAL_TEST_ATTR = "autosft_final_test"


def selected_trial(study: optuna.Study) -> optuna.trial.FrozenTrial:
    """The best complete trial (for several objectives, the first of the Pareto front)."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        raise ConfigError(f"study {study.study_name!r} has no complete trial yet")
    return study.best_trials[0] if len(study.directions) > 1 else study.best_trial


def evaluate_on_test(prepared: PreparedStudy, trial: optuna.trial.FrozenTrial, device: DeviceSetup) -> dict[str, Any]:
    """Retrain ``trial``'s plan with its seed, restore its best epoch, and score the test split."""
    started = time.perf_counter()
    plan_record = dict(trial.user_attrs["plan"])
    plan = TrialPlan(**plan_record)
    trained = train_plan(prepared, plan, device, restore_best=True)
    test_rows = to_device_split(prepared.splits.test, device.device)
    probabilities = predict(trained.module, test_rows, device, prepared.splits.task)
    return {
        "trial": trial.number,
        "test_metrics": json_safe(score(prepared.metrics, prepared.splits.test.labels, probabilities)),
        "retrain_val_metrics": json_safe(trained.result.metrics),
        "best_epoch": trained.result.best_epoch,
        "test_rows": len(prepared.splits.test),
        "seconds": round(time.perf_counter() - started, 3),
    }
