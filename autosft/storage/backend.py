"""The storage backends behind one interface, chosen from a table keyed by URL scheme.

A backend is one module that says how a URL of its schemes is read and checked, how its storage
opens (Optuna's RDB or journal storage, heartbeats included), and how the study lock is taken
across processes: :mod:`autosft.storage.rdb` (SQLAlchemy: SQLite, PostgreSQL, MySQL/MariaDB),
:mod:`autosft.storage.journal` (a journal file), :mod:`autosft.storage.redis_journal` (the journal
on Redis). Every one is wrapped in the same retry on connection loss (:mod:`autosft.storage.retry`).
A new backend is a new module with a ``BACKEND`` and a row in :data:`SCHEMES`.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from optuna.storages import BaseStorage

from autosft.config import HeartbeatConfig
from autosft.errors import StorageError
from autosft.storage.urls import StorageUrl, mask_url

__all__ = ["SCHEMES", "WAIT_SECONDS", "Backend", "StoreLock", "backend_for", "parse_storage_url"]

#: How long a worker waits for the study lock before giving up with an error.
WAIT_SECONDS = 600

#: URL scheme (the part before ``://`` and any ``+driver``) -> the module whose ``BACKEND`` serves it.
SCHEMES = {
    "sqlite": "autosft.storage.rdb",
    "postgresql": "autosft.storage.rdb",
    "mysql": "autosft.storage.rdb",
    "mariadb": "autosft.storage.rdb",
    "journal": "autosft.storage.journal",
    "redis": "autosft.storage.redis_journal",
    "rediss": "autosft.storage.redis_journal",
}


class StoreLock(Protocol):
    """A backend's study lock: held by one process (of any machine) at a time."""

    def held(self) -> contextlib.AbstractContextManager[None]:
        """Hold the lock for the ``with`` block; raise :class:`StorageError` after ``WAIT_SECONDS``."""
        ...

    def close(self) -> None:
        """Free what the lock keeps open (a connection)."""
        ...


@dataclass(frozen=True)
class Backend:
    """One kind of study storage: how its URLs are read, how it opens, how its study lock is taken."""

    #: Read and check a URL without opening it: ``parse(url, must_exist)``.
    parse: Callable[[str, bool], StorageUrl]
    #: Open (creating it if needed) the storage, with heartbeats when given their settings.
    open: Callable[[StorageUrl, HeartbeatConfig | None], BaseStorage]
    #: The lock named ``name`` on the storage: ``lock(location, name)``.
    lock: Callable[[StorageUrl, str], StoreLock]


def backend_for(url: str) -> Backend:
    """The backend serving ``url``'s scheme; an unknown scheme is refused with the valid ones."""
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower() if "://" in url else ""
    module = SCHEMES.get(scheme)
    if module is None:
        said = f"scheme {scheme!r}" if scheme else "no scheme"
        raise StorageError(
            f"storage {mask_url(url)!r} has {said}; valid schemes: {', '.join(SCHEMES)} "
            "(e.g. sqlite:///autosft.db, postgresql+psycopg://user@host/db, journal:///path/study.log, "
            "redis://host:6379/0)"
        )
    backend: Backend = importlib.import_module(module).BACKEND
    return backend


def parse_storage_url(url: str, *, must_exist: bool = False) -> StorageUrl:
    """Classify and check ``url`` without opening it.

    ``must_exist`` is for commands that only read: a SQLite or journal file that is not there is
    an error rather than a new empty study store.
    """
    return backend_for(url).parse(url, must_exist)
