"""The Optuna objective: sample a plan, train it, report each epoch (or each fold, with
cross-validation) to the pruner, record the result.

Everything a trial learns goes into its ``user_attrs`` (plan, metrics, history, timings) so the
study stays a plain Optuna study that ``optuna.load_study`` and the dashboard can read.
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
from collections.abc import Mapping
from typing import Any

import optuna

from autosft.attrs import EXTRA_METRICS_ATTR, FOLD_SCORES_ATTR, WORST_SLICE_PREFIX
from autosft.contracts import TrialContext, TrialPlan, TrialResult, json_safe
from autosft.engine.device import DeviceSetup, release_device_memory
from autosft.engine.prepared import PreparedStudy
from autosft.engine.trial import study_objectives, train_plan
from autosft.errors import TrialFailure
from autosft.evaluate.constraints import constraint_values, extra_metrics
from autosft.evaluate.folds import fold_records, mean_result
from autosft.evaluate.retained import ForgettingGuard
from autosft.evaluate.selection import rerun_tag, trial_seed
from autosft.search.study import AS_IS_ATTR, is_starting_trial

__all__ = ["TrialRunner"]


class TrialRunner:
    """Callable Optuna objective for one prepared study on one device; with a ``guard`` (a study
    with a ``reference``), each trial's model is also scored on the reference rows."""

    def __init__(
        self, prepared: PreparedStudy, *, study_name: str, device: DeviceSetup, guard: ForgettingGuard | None = None
    ) -> None:
        self.prepared = prepared
        self.study_name = study_name
        self.device = device
        self.guard = guard

    def __call__(self, trial: optuna.Trial) -> float | list[float]:
        prepared = self.prepared
        plan = TrialPlan.from_values(prepared.space.sample(trial), seed=trial_seed(trial, prepared.config.seed))
        if trial.user_attrs.get(AS_IS_ATTR):  # the pre-trained model as is: validated, never trained
            plan = dataclasses.replace(plan, epochs=0)
        trial.set_user_attr("plan", plan.as_dict())
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()} on {self.device.device}")
        context = TrialContext(self.study_name, trial.number, plan, prepared.config, str(self.device.device))
        hook = prepared.manager.hook
        hook.autosft_trial_start(context=context)
        prune = rerun_tag(trial) is None and not is_starting_trial(trial)
        try:
            if prepared.folds:
                result = self._cross_validate(trial, context, plan, prune=prune)
                extra: dict[str, float | None] = {}  # no single model to guard: see check_components
            else:
                # The guard scores the model trials are judged by: the one at its best epoch.
                trained = train_plan(prepared, plan, self.device, on_epoch=self._reporter(trial, context, prune=prune),
                                     restore_best=self.guard is not None)  # fmt: skip
                result = trained.result
                extra = {} if self.guard is None else self.guard.measure(trained.module, self.device)
        except optuna.TrialPruned:
            hook.autosft_trial_end(context=context, result=None, state="PRUNED")
            raise
        except KeyboardInterrupt:
            trial.set_user_attr("fail_reason", "interrupted (Ctrl-C)")
            hook.autosft_trial_end(context=context, result=None, state="FAIL")
            raise
        except Exception as error:
            reason = str(error) if isinstance(error, TrialFailure) else f"{type(error).__name__}: {error}"
            trial.set_user_attr("fail_reason", reason)
            hook.autosft_trial_end(context=context, result=None, state="FAIL")
            raise
        finally:
            release_device_memory(self.device)
        for key, value in result.as_user_attrs().items():
            trial.set_user_attr(key, _json(value))
        _record_worst_slices(trial, result.metrics)  # the best epoch's, as the trial's value
        self._record_constraints(trial, result, extra)
        hook.autosft_trial_end(context=context, result=result, state="COMPLETE")
        return result.values[0] if len(result.values) == 1 else result.values

    def _record_constraints(self, trial: optuna.Trial, result: TrialResult, extra: dict[str, float | None]) -> None:
        """Store the trial's extra scores, then give Optuna one constraint per bound of the study
        (:mod:`autosft.evaluate.constraints`), while the trial still runs: samplers read them from it."""
        if extra:
            trial.set_user_attr(EXTRA_METRICS_ATTR, {**trial.user_attrs.get(EXTRA_METRICS_ATTR, {}), **extra})
        constraints = self.prepared.config.all_constraints
        if constraints:
            values = constraint_values(constraints, result.metrics, extra_metrics(trial))
            for key, value in values.items():
                trial.set_constraint(key, value)

    def _cross_validate(
        self, trial: optuna.Trial, context: TrialContext, plan: TrialPlan, *, prune: bool
    ) -> TrialResult:
        """Train one model per fold; the result is their mean at the epoch they share
        (:func:`~autosft.evaluate.folds.mean_result`).

        With folds the pruner's steps are folds, not epochs: after fold ``k`` the running mean of the
        folds so far is reported at step ``k`` (the pruner was built for as many steps as folds), so a
        bad trial stops after a fold or two; epochs are not reported. The folds' scores are stored as
        each finishes, so a pruned trial shows the folds it ran.
        """
        prepared = self.prepared
        objectives = study_objectives(prepared)
        results: list[TrialResult] = []
        mean: TrialResult | None = None
        for number, fold in enumerate(prepared.folds, start=1):
            # Only the first fold's epochs are recorded: the curve every trial, pruned or not, has.
            on_epoch = self._reporter(trial, context, prune=False) if number == 1 else None
            results.append(train_plan(prepared, plan, self.device, on_epoch=on_epoch, splits=fold).result)
            trial.set_user_attr(FOLD_SCORES_ATTR, _json(fold_records(results, objectives)))
            mean = mean_result(results, objectives)
            running = mean.values[0]
            if prune and len(prepared.directions) == 1 and not math.isnan(running) and number < len(prepared.folds):
                trial.report(running, number)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after fold {number} with mean {running:.4f}")
        assert mean is not None  # a study with folds has at least 2 (validation.folds >= 2)
        return mean

    def _reporter(self, trial: optuna.Trial, context: TrialContext, *, prune: bool) -> Any:
        """Record each epoch; report it to the pruner unless ``prune`` is false.

        Seed re-runs train to the end (a pruned re-run would bias its configuration's mean), and so
        do a study's starting trials: they are the baselines later trials are judged against, and in
        a bracket of two, the quick look's early epochs would cut the default short.
        """
        primary = self.prepared.objective_keys[0]
        single_objective = len(self.prepared.directions) == 1
        history: list[dict[str, Any]] = []
        trial_reported: set[int] = set()  # Optuna keeps the first value reported for a step

        def on_epoch(epoch: int, metrics: Mapping[str, float]) -> None:
            # An out-of-memory retry starts over: its epochs replace the failed run's.
            del history[max(epoch - 1, 0) :]  # epoch 0: the untrained model as is
            history.append(json_safe(metrics))
            # Stored every epoch so a pruned or killed trial still shows its learning curve.
            trial.set_user_attr("history", history)
            _record_worst_slices(trial, metrics)  # so a pruned or failed trial has them too
            self.prepared.manager.hook.autosft_epoch_end(context=context, epoch=epoch, metrics=metrics)
            value = metrics[primary]
            if not prune or not single_objective or math.isnan(value) or epoch in trial_reported:
                return
            trial_reported.add(epoch)
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch} with {primary}={value:.4f}")

        return on_epoch


def _record_worst_slices(trial: optuna.Trial, metrics: Mapping[str, float]) -> None:
    """Store the worst validation slice per metric under :data:`EXTRA_METRICS_ATTR`, merged with what
    else is stored there, where constraints read them; nothing for a study without slices."""
    worst = {name: value for name, value in metrics.items() if name.startswith(WORST_SLICE_PREFIX)}
    if worst:
        trial.set_user_attr(EXTRA_METRICS_ATTR, _json({**trial.user_attrs.get(EXTRA_METRICS_ATTR, {}), **worst}))


def _json(value: Any) -> Any:
    if isinstance(value, Mapping):
        return json_safe({key: _json(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_json(item) for item in value]
    return value
