"""An exact trial budget shared by every worker of a study, on any number of machines.

Under a study-wide database lock a worker counts the trials that are finished or running
(COMPLETE, PRUNED, RUNNING) and asks for a new trial only below the target. Failed trials do not
count, so a trial lost to a crash is replaced (first by its heartbeat retry, which waits in the
queue with the same parameters), and the study ends with exactly the target of finished trials.
"""

from __future__ import annotations

import warnings

import optuna

from autosft.attrs import TARGET_ATTR
from autosft.errors import ConfigError
from autosft.storage.lock import StudyLock

__all__ = ["TARGET_ATTR", "ask_within_budget", "budget_left", "set_target", "trial_target"]


_COUNTED = (
    optuna.trial.TrialState.COMPLETE,
    optuna.trial.TrialState.PRUNED,
    optuna.trial.TrialState.RUNNING,
)


def _spent(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=_COUNTED))


def set_target(study: optuna.Study, lock: StudyLock, n_trials: int) -> int:
    """Raise the study's target to ``n_trials`` beyond the trials it holds; return the new target."""
    with lock.held():
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
        if _spent(study) >= target:
            return None
        with warnings.catch_warnings():
            # Optuna warns that heartbeats expect study.optimize; our worker loop beats itself.
            warnings.filterwarnings("ignore", message="Heartbeat of storage", category=UserWarning)
            trial = study.ask()
        # Beat once at once: a RUNNING trial with no heartbeat yet is never found stale, so a
        # worker killed before its heartbeat thread starts would leave it RUNNING for ever.
        if getattr(study._storage, "get_heartbeat_interval", lambda: None)() is not None:
            study._storage.record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]
        return trial
