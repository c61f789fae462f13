"""Dead workers' trials: finding them, failing them with a reason, and queueing them again.

A trial is stale when its worker stopped beating for longer than the grace period, or when it
never beat and started longer than the grace period ago. The second rule is ours: a worker killed
between creating its trial (inside ``study.ask()``) and its first beat leaves a RUNNING trial with
no heartbeat, which Optuna's own check skips, so it would stay RUNNING for ever and the next run
would wait for it. Each storage's ``_get_stale_trial_ids`` (:mod:`autosft.storage.rdb`,
:mod:`autosft.storage.journal`) applies both rules; this module acts on what they find.

A trial failed here, or interrupted by a signal, is *lost*, not failed on its own: it carries
:data:`LOST_ATTR`, so the trial budget (:mod:`autosft.search.budget`) does not count it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import optuna
from optuna.trial import FrozenTrial, TrialState

from autosft.attrs import FAIL_REASON_ATTR, LOST_ATTR

__all__ = [
    "FAIL_REASON_ATTR", "LOST_ATTR", "STALE_REASON", "fail_stale_trials", "is_lost", "requeue", "stale_trial_numbers",
    "storage_of", "trial_id",
]  # fmt: skip

#: Trial user attribute naming the worker that ran a trial (a retry must not show the dead one's).
WORKER_ATTR = "worker"
STALE_REASON = "its worker stopped sending heartbeats (killed, or cut off from the storage)"

StaleCallback = Callable[[optuna.Study, FrozenTrial], None]


def storage_of(study: optuna.Study) -> optuna.storages.BaseStorage:
    """The storage ``study`` was opened on.

    Optuna has no public accessor: ``Study`` keeps it as ``_storage``. This is the one place
    autosft reads it; every storage call then goes through the public ``BaseStorage`` interface.
    """
    return study._storage


def trial_id(study: optuna.Study, number: int) -> int:
    """The storage's id of trial ``number`` of ``study`` (what heartbeats and attribute writes take)."""
    storage = storage_of(study)
    return storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study.study_name), number)


def is_lost(trial: FrozenTrial) -> bool:
    """Whether ``trial`` failed because its worker died or was stopped, not because of its own values."""
    return trial.state == TrialState.FAIL and bool(trial.user_attrs.get(LOST_ATTR))


def _stale_trial_ids(storage: optuna.storages.BaseStorage, study_id: int) -> list[int]:
    # Optuna's heartbeat interface names this query private but offers no public one; every
    # storage autosft opens implements it (RetryingStorage forwards it).
    return list(storage._get_stale_trial_ids(study_id))  # type: ignore[attr-defined]


def stale_trial_numbers(study: optuna.Study) -> set[int]:
    """Numbers of the study's RUNNING trials that are stale now (for ``autosft status``)."""
    storage = storage_of(study)
    if getattr(storage, "get_heartbeat_interval", lambda: None)() is None:
        return set()
    study_id = storage.get_study_id_from_name(study.study_name)
    return {storage.get_trial(stale).number for stale in _stale_trial_ids(storage, study_id)}


def fail_stale_trials(study: optuna.Study) -> list[int]:
    """Fail the study's stale trials, each with its reason, and queue them again; their numbers.

    Callers hold the study lock (:func:`autosft.search.budget.ask_within_budget`), under which
    workers also create their trials and record their first beat: a trial seen there without a
    beat is never one that a live worker is still starting.
    """
    storage = storage_of(study)
    if getattr(storage, "get_heartbeat_interval", lambda: None)() is None:
        return []
    failed = []
    for stale in _stale_trial_ids(storage, storage.get_study_id_from_name(study.study_name)):
        try:  # attributes first: a finished trial takes no more writes
            storage.set_trial_user_attr(stale, FAIL_REASON_ATTR, STALE_REASON)
            storage.set_trial_user_attr(stale, LOST_ATTR, "stale")
            if storage.set_trial_state_values(stale, state=TrialState.FAIL):
                failed.append(storage.get_trial(stale))
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # its worker finished it after all, or another process failed it first
    for trial in failed:
        requeue(study, trial)
    return [trial.number for trial in failed]


def requeue(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue a lost trial again with its parameters, at most ``heartbeat.max_retries`` times.

    The retry is Optuna's (:class:`optuna.storages.RetryHeartbeatStaleTrialCallback`: it records
    ``failed_trial`` and ``retry_history``), made from a copy of the trial without the marks of
    its loss and of the dead worker, which are not the retry's.
    """
    retry: StaleCallback | None = getattr(storage_of(study), "get_heartbeat_stale_trial_callback", lambda: None)()
    if retry is None:
        return
    template = copy.deepcopy(trial)
    dropped = {LOST_ATTR, FAIL_REASON_ATTR, WORKER_ATTR}
    template.user_attrs = {key: value for key, value in trial.user_attrs.items() if key not in dropped}
    retry(study, template)
