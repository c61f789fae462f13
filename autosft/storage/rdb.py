"""Optuna's RDB storage on any SQLAlchemy URL, with heartbeats and a connection pool per worker.

The storage is opened, and its tables created, before any trial starts, so workers never race to
create a fresh database. Its stale trials include those that never beat (:mod:`autosft.storage.stale`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import warnings
from datetime import datetime, timedelta, timezone

import optuna

from autosft.config import HeartbeatConfig
from autosft.errors import StorageError
from autosft.storage.lock import file_lock
from autosft.storage.retry import stale_trial_retry
from autosft.storage.urls import StorageUrl, mask_url

__all__ = ["POOL_OVERFLOW", "POOL_SIZE", "HeartbeatRDBStorage", "application_name", "open_rdb"]

#: Connections one worker process holds: the trial's writes and its heartbeat thread each need
#: one; the overflow absorbs a status query. A hundred workers then stay within a default
#: PostgreSQL's max_connections of 100 only with a pooler; the README says so.
POOL_SIZE = 2
POOL_OVERFLOW = 2


class HeartbeatRDBStorage(optuna.storages.RDBStorage):
    """Optuna's RDB storage, where a RUNNING trial that never beat is stale once the grace period
    has passed since it started.

    Optuna's own query skips trials without a heartbeat row, so a worker killed inside
    ``study.ask()`` (the trial created, its first beat not yet recorded) would leave its trial
    RUNNING for ever. Overriding the query is the only way in: Optuna exposes no public hook for it.
    """

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        stale = super()._get_stale_trial_ids(study_id)
        return stale + [silent for silent in self._silent_trial_ids(study_id) if silent not in stale]

    def _silent_trial_ids(self, study_id: int) -> list[int]:
        from optuna.storages._rdb import models  # the tables Optuna's own stale-trial query reads

        assert self.heartbeat_interval is not None
        grace = self.grace_period or 2 * self.heartbeat_interval
        # Optuna 5 stores the start as naive UTC from the creating worker's clock: workers' clocks
        # must agree (to well within the grace period), as they must for the journal's beats.
        started_before = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=grace)
        trial, beat = models.TrialModel, models.TrialHeartbeatModel
        session = self.scoped_session()
        try:
            rows = (
                session.query(trial.trial_id)
                .outerjoin(beat, beat.trial_id == trial.trial_id)
                .filter(trial.study_id == study_id, trial.state == optuna.trial.TrialState.RUNNING)
                .filter(beat.trial_heartbeat_id.is_(None), trial._datetime_start_utc < started_before)
                .all()
            )
            session.commit()  # end the read transaction, as Optuna's own queries do
        except BaseException:
            session.rollback()
            raise
        return [row[0] for row in rows]


def application_name() -> str:
    """How this process's PostgreSQL connections introduce themselves."""
    return f"autosft {socket.gethostname()[:40]}:{os.getpid()}"


def open_rdb(location: StorageUrl, heartbeat: HeartbeatConfig | None) -> optuna.storages.RDBStorage:
    """Open (creating tables if needed) the study database ``location`` names."""
    import sqlalchemy.exc

    engine_kwargs: dict[str, object]
    if location.backend == "sqlite":
        # Wait for a writer instead of failing at once with "database is locked".
        engine_kwargs = {"connect_args": {"timeout": 60}}
    else:
        # pre_ping replaces connections a database restart killed before a query fails on them.
        engine_kwargs = {"pool_pre_ping": True, "pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
        if location.backend == "postgresql":  # pg_stat_activity then says which worker holds what
            engine_kwargs["connect_args"] = {"application_name": application_name()}
    # Creating a fresh SQLite file's tables is not atomic: two processes at once would both insert
    # its schema version. Under the study lock's file lock they take turns.
    creating = file_lock(location.path) if location.path is not None else contextlib.nullcontext()
    try:
        with creating, warnings.catch_warnings():  # heartbeats are "experimental" in Optuna since 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return HeartbeatRDBStorage(
                location.url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=None if heartbeat is None else heartbeat.interval,
                grace_period=None if heartbeat is None else heartbeat.grace_period,
                heartbeat_stale_trial_callback=stale_trial_retry(heartbeat),
            )
    except (ImportError, sqlalchemy.exc.NoSuchModuleError):
        raise StorageError(
            f"no database driver for {mask_url(location.url)!r}: install one, e.g. pip install 'autosft[postgres]' "
            "(psycopg) or 'autosft[mysql]' (use mysql+pymysql://)"
        ) from None
    except sqlalchemy.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise StorageError(f"cannot open storage {mask_url(location.url)!r}: {mask_url(reason)}") from None
