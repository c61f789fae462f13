"""An exact trial budget shared by every worker of a study, on any number of machines.

Under a study-wide lock a worker fails the trials of dead workers, counts the trials spent, and
asks for a new trial only below the target. Every trial counts (COMPLETE, PRUNED, RUNNING, and a
FAIL of its own: an exception, a diverged loss) except a *lost* one, whose worker was killed, cut
off or stopped by a signal (:func:`autosft.storage.stale.is_lost`): that one is replaced, first by
its retry waiting in the queue with the same parameters. So ``n_trials: 20`` starts 20 trials of
the study's own, however many workers die, and a configuration that fails still costs its slot.
"""

from __future__ import annotations

import warnings

import optuna

from autosft.attrs import TARGET_ATTR
from autosft.errors import ConfigError
from autosft.storage.lock import StudyLock
from autosft.storage.stale import fail_stale_trials, is_lost, storage_of, trial_id

__all__ = ["TARGET_ATTR", "ask_within_budget", "budget_left", "set_target", "trial_target"]


_COUNTED = (
    optuna.trial.TrialState.COMPLETE,
    optuna.trial.TrialState.PRUNED,
    optuna.trial.TrialState.RUNNING,
    optuna.trial.TrialState.FAIL,
)


def _spent(study: optuna.Study) -> int:
    return sum(not is_lost(trial) for trial in study.get_trials(deepcopy=False, states=_COUNTED))


def set_target(study: optuna.Study, lock: StudyLock, n_trials: int) -> int:
    """Raise the study's target to ``n_trials`` beyond the trials it holds; return the new target."""
    with lock.held():
        fail_stale_trials(study)  # a dead worker's trial is not spent: its retry takes its place
        target = _spent(study) + n_trials
        study.set_user_attr(TARGET_ATTR, target)
    return target


def trial_target(study: optuna.Study) -> int:
    """The study's target; a study started by another tool has none, and workers cannot join it."""
    target = study.user_attrs.get(TARGET_ATTR)
    if not isinstance(target, int):
        raise ConfigError(f"study {study.study_name!r} has no trial budget: start it with `autosft search`")
    return target


def budget_left(study: optuna.Study) -> int:
    """Trials the study's workers may still start (running ones count as spent)."""
    return max(0, trial_target(study) - _spent(study))


def ask_within_budget(study: optuna.Study, lock: StudyLock, target: int) -> optuna.Trial | None:
    """Start the next trial (a queued one first) if the budget allows, else ``None``.

    Counting and asking happen under the lock, so two workers never both take the last slot.
    """
    with lock.held():
        fail_stale_trials(study)  # a dead worker's trial: FAIL, and queued again
        if _spent(study) >= target:
            return None
        with warnings.catch_warnings():
            # Optuna warns that heartbeats expect study.optimize; our worker loop beats itself.
            warnings.filterwarnings("ignore", message="Heartbeat of storage", category=UserWarning)
            trial = study.ask()
        # Beat at once, still under the lock: the stale check above runs under it too, so a trial
        # seen without a beat there is one whose worker died inside ask, never one being started.
        storage = storage_of(study)
        if getattr(storage, "get_heartbeat_interval", lambda: None)() is not None:
            storage.record_heartbeat(trial_id(study, trial.number))  # type: ignore[attr-defined]
        return trial
