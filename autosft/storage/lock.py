"""A lock on one study that holds across processes and machines, in whatever stores the study.

Each backend says how (:mod:`autosft.storage.backend`): a PostgreSQL advisory lock, MySQL/MariaDB
``GET_LOCK``, a Redis lock key its holder renews, an ``flock`` beside a journal file or a SQLite
database (so two ``autosft search`` runs on one SQLite file keep an exact budget, and do not race
to create its tables). A thread lock comes first, so threads of one process take turns too.
Taking the lock is retried on connection loss like every storage call; waiting longer than
``WAIT_SECONDS`` raises :class:`~autosft.errors.StorageError`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from autosft.storage.backend import WAIT_SECONDS, backend_for

__all__ = ["WAIT_SECONDS", "StudyLock"]


class StudyLock:
    """``with lock.held(): ...`` runs the block while no other holder of this study's lock does."""

    def __init__(self, url: str, study_name: str) -> None:
        self.name = f"autosft:{study_name}"
        backend = backend_for(url)
        self.location = backend.parse(url, False)
        self._thread_lock = threading.Lock()
        self._lock = backend.lock(self.location, self.name)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock, self._lock.held():
            yield

    def close(self) -> None:
        self._lock.close()
