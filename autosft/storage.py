"""Study storage: URL checks, credential masking, and Optuna RDB storage with heartbeats.

Any SQLAlchemy URL works (SQLite embedded by default; PostgreSQL or MySQL when several machines
share a study). The storage is opened, and its tables created, before any trial starts, so
workers never race to create a fresh database.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from autosft.config import HeartbeatConfig
from autosft.errors import StorageError

if TYPE_CHECKING:
    import optuna

__all__ = ["mask_url", "open_storage"]

_PASSWORD_IN_URL = re.compile(r"(?P<scheme>[a-zA-Z][\w+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]*)@")


def mask_url(text: str) -> str:
    """Replace the password of every URL in ``text`` with ``***`` (for any message we print)."""
    return _PASSWORD_IN_URL.sub(lambda match: f"{match['scheme']}{match['user']}:***@", text)


def open_storage(
    url: str, heartbeat: HeartbeatConfig | None = None, *, must_exist: bool = False
) -> optuna.storages.RDBStorage:
    """Open (creating tables if needed) the study database at ``url``.

    ``must_exist`` is for commands that only read: a SQLite file that is not there is an error
    rather than a new empty database.

    With ``heartbeat``, running trials beat every ``interval`` seconds; one silent for
    ``grace_period`` is failed by the next worker to start a trial and re-queued with the same
    parameters, at most ``max_retries`` times.
    """
    import optuna
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise StorageError(f"malformed storage URL {mask_url(url)!r}; expected e.g. sqlite:///autosft.db") from None
    engine_kwargs: dict[str, object] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        _check_sqlite_path(parsed.database, url, must_exist=must_exist)
        # Wait for a writer instead of failing at once with "database is locked".
        engine_kwargs = {"connect_args": {"timeout": 60}}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            retry = (
                None if heartbeat is None else optuna.storages.RetryHeartbeatStaleTrialCallback(heartbeat.max_retries)
            )
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=None if heartbeat is None else heartbeat.interval,
                grace_period=None if heartbeat is None else heartbeat.grace_period,
                heartbeat_stale_trial_callback=retry,
            )
    except (ImportError, sqlalchemy.exc.NoSuchModuleError):
        raise StorageError(
            f"no database driver for {mask_url(url)!r}: install one, e.g. pip install 'autosft[postgres]' "
            "(psycopg) or 'autosft[mysql]' (use mysql+pymysql://)"
        ) from None
    except sqlalchemy.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise StorageError(f"cannot open storage {mask_url(url)!r}: {mask_url(reason)}") from None


def _check_sqlite_path(database: str | None, url: str, *, must_exist: bool) -> None:
    if not database or database == ":memory:":
        raise StorageError(
            f"storage {url!r} is in memory and would lose the study on exit; give a file, e.g. sqlite:///autosft.db"
        )
    if must_exist and not Path(database).expanduser().is_file():
        raise StorageError(f"storage {url!r}: there is no study database at {database!r}")
    folder = Path(database).expanduser().resolve().parent
    if not folder.is_dir():
        raise StorageError(f"storage {url!r}: folder {str(folder)!r} does not exist")
