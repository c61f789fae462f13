"""A lock on one study that holds across processes and machines, in whatever stores the study.

PostgreSQL uses an advisory lock, MySQL/MariaDB ``GET_LOCK``, Redis a lock key with an expiry (a
worker that dies holding it frees it after ``REDIS_LOCK_SECONDS``), a journal file or a SQLite
database an ``flock`` on a file beside it (two ``autosft search`` runs on one SQLite file keep an
exact budget, and do not race to create its tables). Taking the lock is retried on connection
loss like every storage call.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from autosft.storage.retry import call_with_retry, is_transient
from autosft.storage.urls import parse_storage_url

__all__ = ["REDIS_LOCK_SECONDS", "StudyLock", "file_lock"]

#: Expiry of the Redis lock key. Its holder renews it every third of that while it holds it (a
#: slow sampler may hold it for seconds), so a holder that dies frees it within this time.
REDIS_LOCK_SECONDS = 10
#: How long a worker waits for the lock before giving up with an error.
WAIT_SECONDS = 600


class StudyLock:
    """``with lock.held(): ...`` runs the block while no other holder of this study's lock does."""

    def __init__(self, url: str, study_name: str) -> None:
        self.name = f"autosft:{study_name}"
        self.location = parse_storage_url(url)
        self._thread_lock = threading.Lock()
        self._engine: Any = None
        self._redis: Any = None
        if self.location.family == "rdb" and self.location.shared:
            import sqlalchemy
            from sqlalchemy.pool import NullPool

            self._engine = sqlalchemy.create_engine(url, poolclass=NullPool)
        elif self.location.family == "redis":
            import redis

            assert self.location.redis_url is not None
            self._redis = redis.Redis.from_url(self.location.redis_url)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            if self.location.path is not None:  # a journal file, a SQLite database
                with file_lock(self.location.path):
                    yield
            elif self._redis is not None:
                with self._redis_lock():
                    yield
            elif self._engine is not None:
                with self._database_lock():
                    yield
            else:
                yield

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        if self._redis is not None:
            self._redis.close()

    @contextlib.contextmanager
    def _redis_lock(self) -> Iterator[None]:
        key = f"{self.location.redis_prefix}:lock:{self.name}"
        # Not thread-local: the renewing thread needs the token the taking thread got.
        lock = self._redis.lock(key, timeout=REDIS_LOCK_SECONDS, blocking_timeout=WAIT_SECONDS, thread_local=False)
        if not call_with_retry(lock.acquire):
            raise TimeoutError(f"could not take the study lock {key!r} in {WAIT_SECONDS}s")
        released = threading.Event()

        def renew() -> None:
            while not released.wait(REDIS_LOCK_SECONDS / 3):
                with contextlib.suppress(Exception):  # a blip: the next renewal, or the expiry, settles it
                    lock.reacquire()

        renewer = threading.Thread(target=renew, name=f"autosft-lock-{self.name}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            released.set()
            renewer.join()
            with contextlib.suppress(Exception):  # expired or lost with the connection: it is free anyway
                lock.release()

    @contextlib.contextmanager
    def _database_lock(self) -> Iterator[None]:
        import sqlalchemy

        params: dict[str, Any]
        if self.location.backend == "postgresql":
            key = zlib.crc32(self.name.encode())
            take, free, params = "SELECT pg_advisory_lock(:key)", "SELECT pg_advisory_unlock(:key)", {"key": key}
        else:  # mysql, mariadb
            take, free = f"SELECT GET_LOCK(:name, {WAIT_SECONDS})", "SELECT RELEASE_LOCK(:name)"
            params = {"name": self.name}
        connection = call_with_retry(self._locked_connection, sqlalchemy.text(take), params)
        try:
            yield
        finally:
            try:
                connection.execute(sqlalchemy.text(free), params)
            except Exception as error:
                # A session the server lost holds no lock any more; anything else is a real fault.
                if not is_transient(error):
                    raise
            finally:
                connection.close()

    def _locked_connection(self, take: Any, params: dict[str, Any]) -> Any:
        connection = self._engine.connect()
        try:
            connection.execute(take, params)
        except BaseException:
            connection.close()
            raise
        return connection


@contextlib.contextmanager
def file_lock(store: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on a file beside ``store`` (released by the kernel if the holder dies)."""
    # Not "<journal>.lock": Optuna's own journal lock takes that name.
    with open(f"{store}.study-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
