"""The journal-file backend, and the heartbeats that Optuna's journal storage (file or Redis) lacks.

Opens: Optuna's journal storage on an append-only file, with its ``open(O_EXCL)`` lock (local
disks, NFSv3+). Locks: an ``flock`` beside the file. Retries: a read-only or full disk fails at
once (:mod:`autosft.storage.retry`); a file has no connection to lose.

Optuna 5's ``JournalStorage`` keeps no heartbeats, so a worker killed mid-trial would leave its
trial RUNNING for ever. Here a heartbeat is a trial system attribute holding the worker's clock
(appended to the journal like any other write), and a RUNNING trial whose last beat is older than
the grace period is stale, as is one that never beat and started longer ago than that:
:func:`autosft.storage.stale.fail_stale_trials` then fails it and queues it again, exactly as on
PostgreSQL. Workers' clocks must agree to well within the grace period (NTP does that); the
default grace period is 90 seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import optuna
from optuna.storages import BaseStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalRedisBackend, JournalStorage
from optuna.trial import FrozenTrial, TrialState

from autosft.config import HeartbeatConfig
from autosft.storage.backend import Backend, StoreLock
from autosft.storage.local import FileLock, check_file
from autosft.storage.retry import BaseHeartbeat, stale_trial_retry
from autosft.storage.urls import StorageUrl

__all__ = ["BACKEND", "HEARTBEAT_ATTR", "HeartbeatJournalStorage", "beating_journal"]

#: Trial system attribute ``[trial_id, seconds since the epoch]`` of the last beat. The id is kept
#: because a retried trial inherits its stale original's system attributes, beat included.
HEARTBEAT_ATTR = "autosft:heartbeat"

StaleCallback = Callable[[optuna.Study, FrozenTrial], None]


class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """A journal storage whose running trials beat, so that dead workers' trials are retried."""

    def __init__(
        self,
        backend: JournalFileBackend | JournalRedisBackend,
        *,
        heartbeat_interval: int | None = None,
        grace_period: int | None = None,
        stale_trial_callback: StaleCallback | None = None,
    ) -> None:
        super().__init__(backend)
        self._heartbeat_interval = heartbeat_interval
        self._grace_period = grace_period
        self._stale_trial_callback = stale_trial_callback

    def record_heartbeat(self, trial_id: int) -> None:
        self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, [trial_id, time.time()])

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        if self._grace_period is None:
            return []
        oldest_alive = time.time() - self._grace_period
        stale = []
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            trial_id = self.get_trial_id_from_study_id_trial_number(study_id, trial.number)
            beat = trial.system_attrs.get(HEARTBEAT_ATTR)
            # A trial that never beat (its worker died inside study.ask()) is judged by its start;
            # the journal stores that in UTC, and Optuna reads it back as local time.
            assert trial.datetime_start is not None
            last = beat[1] if beat is not None and beat[0] == trial_id else trial.datetime_start.timestamp()
            if last < oldest_alive:
                stale.append(trial_id)
        return stale

    def get_heartbeat_interval(self) -> int | None:
        return self._heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> StaleCallback | None:
        return self._stale_trial_callback


def beating_journal(
    backend: JournalFileBackend | JournalRedisBackend, heartbeat: HeartbeatConfig | None
) -> HeartbeatJournalStorage:
    """The journal storage on ``backend``, beating and retrying stale trials as ``heartbeat`` says."""
    return HeartbeatJournalStorage(
        backend,
        heartbeat_interval=None if heartbeat is None else heartbeat.interval,
        grace_period=None if heartbeat is None else heartbeat.grace_period,
        stale_trial_callback=stale_trial_retry(heartbeat),
    )


def _parse(url: str, must_exist: bool) -> StorageUrl:
    parts = urlsplit(url)
    path = parts.netloc + parts.path  # journal:///abs/study.log and journal://relative/study.log
    check_file(path, url, must_exist=must_exist, what="journal")
    return StorageUrl(url=url, backend="journal", path=Path(path).expanduser())


def _open(location: StorageUrl, heartbeat: HeartbeatConfig | None) -> BaseStorage:
    assert location.path is not None
    lock = JournalFileOpenLock(str(location.path))
    return beating_journal(JournalFileBackend(str(location.path), lock_obj=lock), heartbeat)


def _lock(location: StorageUrl, name: str) -> StoreLock:
    assert location.path is not None
    return FileLock(location.path)


BACKEND = Backend(parse=_parse, open=_open, lock=_lock)
