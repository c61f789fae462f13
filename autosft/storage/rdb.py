"""The RDB backend: Optuna's RDB storage on a SQLAlchemy URL (SQLite, PostgreSQL, MySQL/MariaDB).

Opens: with heartbeats and a small connection pool per worker; the tables are created before any
trial starts (on SQLite under the file lock, so two processes never race to create a fresh file),
and its stale trials include those that never beat (:mod:`autosft.storage.stale`).
Locks: a PostgreSQL advisory lock, MySQL/MariaDB ``GET_LOCK`` (both freed by the server when the
holder's session dies), an ``flock`` beside a SQLite file. Retries: a connection error (SQLAlchemy
``OperationalError``/``InterfaceError``, an invalidated connection) is retried; a read-only or
full database, or an error in the data, is not (:mod:`autosft.storage.retry`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import warnings
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage

from autosft.config import HeartbeatConfig
from autosft.errors import StorageError
from autosft.storage.backend import WAIT_SECONDS, Backend, StoreLock
from autosft.storage.local import FileLock, check_file, file_lock
from autosft.storage.retry import call_with_retry, is_transient, stale_trial_retry
from autosft.storage.urls import StorageUrl, mask_url

__all__ = ["BACKEND", "POOL_OVERFLOW", "POOL_SIZE", "DatabaseLock", "HeartbeatRDBStorage", "application_name",
           "open_rdb", "parse_rdb_url"]  # fmt: skip

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


def _open(location: StorageUrl, heartbeat: HeartbeatConfig | None) -> BaseStorage:
    # Optuna's cache of finished trials, which optuna.load_study would add to a bare RDBStorage.
    return optuna.storages.get_storage(open_rdb(location, heartbeat))


def parse_rdb_url(url: str, must_exist: bool) -> StorageUrl:
    """Check a SQLAlchemy URL; a SQLite one must name a file (that exists, with ``must_exist``)."""
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except ValueError:  # make_url reads the port as a number
        raise StorageError(f"storage {mask_url(url)!r}: the port must be a number") from None
    except sqlalchemy.exc.ArgumentError:
        raise StorageError(
            f"malformed storage URL {mask_url(url)!r}; expected e.g. sqlite:///autosft.db or "
            "postgresql+psycopg://user@host/db"
        ) from None
    backend = parsed.get_backend_name()
    if backend != "sqlite":
        return StorageUrl(url=url, backend=backend)
    database = parsed.database
    if database and parsed.query.get("uri") == "true":  # sqlite:///file:/path/study.db?mode=ro&uri=true
        database = database.removeprefix("file:")
    check_file(database, url, must_exist=must_exist, what="study database")
    assert database is not None
    return StorageUrl(url=url, backend=backend, path=Path(database).expanduser())


class DatabaseLock:
    """A lock held by a database session: PostgreSQL's advisory lock, MySQL/MariaDB's ``GET_LOCK``.

    The server frees it when the holder's session ends, a killed worker's included.
    """

    def __init__(self, location: StorageUrl, name: str) -> None:
        import sqlalchemy
        from sqlalchemy.pool import NullPool

        self.name = name
        self._engine = sqlalchemy.create_engine(location.url, poolclass=NullPool)
        if location.backend == "postgresql":
            self._params: dict[str, Any] = {"key": zlib.crc32(name.encode())}
            self._take, self._free = "SELECT pg_advisory_lock(:key)", "SELECT pg_advisory_unlock(:key)"
        else:  # mysql, mariadb: GET_LOCK says 1 when it got the lock, 0 when it timed out
            self._params = {"name": name}
            self._take, self._free = f"SELECT GET_LOCK(:name, {WAIT_SECONDS})", "SELECT RELEASE_LOCK(:name)"

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        import sqlalchemy

        connection = call_with_retry(self._locked_connection)
        try:
            yield
        finally:
            try:
                connection.execute(sqlalchemy.text(self._free), self._params)
            except Exception as error:
                # A session the server lost holds no lock any more; anything else is a real fault.
                if not is_transient(error):
                    raise
            finally:
                connection.close()

    def close(self) -> None:
        self._engine.dispose()

    def _locked_connection(self) -> Any:
        import sqlalchemy

        connection = self._engine.connect()
        try:
            got = connection.execute(sqlalchemy.text(self._take), self._params).scalar()
        except BaseException:
            connection.close()
            raise
        if got == 0:  # only GET_LOCK gives up; pg_advisory_lock waits
            connection.close()
            raise StorageError(f"could not take the study lock {self.name!r} in {WAIT_SECONDS}s")
        return connection


def _lock(location: StorageUrl, name: str) -> StoreLock:
    if location.path is not None:  # SQLite: one process writes at a time; a lock beside the file
        return FileLock(location.path)
    return DatabaseLock(location, name)


BACKEND = Backend(parse=parse_rdb_url, open=_open, lock=_lock)
