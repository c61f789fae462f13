"""Optuna's RDB storage on any SQLAlchemy URL, with heartbeats and a connection pool per worker.

The storage is opened, and its tables created, before any trial starts, so workers never race to
create a fresh database.
"""

from __future__ import annotations

import os
import socket
import warnings
from typing import TYPE_CHECKING

from autosft.config import HeartbeatConfig
from autosft.errors import StorageError
from autosft.storage.retry import stale_trial_retry
from autosft.storage.urls import StorageUrl, mask_url

if TYPE_CHECKING:
    import optuna

__all__ = ["POOL_OVERFLOW", "POOL_SIZE", "application_name", "open_rdb"]

#: Connections one worker process holds: the trial's writes and its heartbeat thread each need
#: one; the overflow absorbs a status query. A hundred workers then stay within a default
#: PostgreSQL's max_connections of 100 only with a pooler; the README says so.
POOL_SIZE = 2
POOL_OVERFLOW = 2


def application_name() -> str:
    """How this process's PostgreSQL connections introduce themselves."""
    return f"autosft {socket.gethostname()[:40]}:{os.getpid()}"


def open_rdb(location: StorageUrl, heartbeat: HeartbeatConfig | None) -> optuna.storages.RDBStorage:
    """Open (creating tables if needed) the study database ``location`` names."""
    import optuna
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
    try:
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna since 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
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
