"""The Redis backend: Optuna's journal storage on Redis, for clusters with no relational database.

Opens: ``redis://host:port/db`` (``rediss://`` with TLS), checked with a ping; ``?prefix=NAME``
keeps several teams' keys apart on one Redis. Locks: a lock key with an expiry that its holder
renews while it holds it, so a holder that dies frees it within ``REDIS_LOCK_SECONDS``.
Retries: a Redis ``ConnectionError``/``TimeoutError`` is retried; a read-only replica, a
``MISCONF`` (no disk for its snapshot) or an out-of-memory refusal is not (:mod:`autosft.storage.retry`).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import optuna
from optuna.storages import BaseStorage
from optuna.storages.journal import JournalRedisBackend

from autosft.config import HeartbeatConfig
from autosft.errors import StorageError
from autosft.storage.backend import WAIT_SECONDS, Backend, StoreLock
from autosft.storage.journal import beating_journal
from autosft.storage.retry import call_with_retry
from autosft.storage.ticker import ticking
from autosft.storage.urls import DEFAULT_REDIS_PREFIX, StorageUrl, mask_url

__all__ = ["BACKEND", "REDIS_LOCK_SECONDS", "RedisLock"]

#: Expiry of the Redis lock key. Its holder renews it every third of that while it holds it (a
#: slow sampler may hold it for seconds), so a holder that dies frees it within this time.
REDIS_LOCK_SECONDS = 10


def _parse(url: str, must_exist: bool) -> StorageUrl:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  # urlsplit reads the port only when asked
    except ValueError:
        raise StorageError(f"storage {mask_url(url)!r}: the port must be a number from 0 to 65535") from None
    query = dict(parse_qsl(parts.query))
    prefix = query.pop("prefix", DEFAULT_REDIS_PREFIX)
    if not prefix:
        raise StorageError(f"storage {mask_url(url)!r}: `prefix` must not be empty")
    redis_url = urlunsplit(parts._replace(query=urlencode(query)))
    return StorageUrl(url=url, backend="redis", redis_url=redis_url, redis_prefix=prefix)


def _client(location: StorageUrl) -> Any:
    try:
        import redis
    except ImportError:
        raise StorageError(
            f"storage {mask_url(location.url)!r} needs the redis client: pip install 'autosft[redis]'"
        ) from None
    assert location.redis_url is not None
    return redis.Redis.from_url(location.redis_url)


def _open(location: StorageUrl, heartbeat: HeartbeatConfig | None) -> BaseStorage:
    import redis

    client = _client(location)
    try:  # fail now with the reason, not at the first write of a trial
        client.ping()
    except (redis.exceptions.RedisError, ValueError) as error:
        raise StorageError(f"cannot open storage {mask_url(location.url)!r}: {mask_url(str(error))}") from None
    finally:
        client.close()
    assert location.redis_url is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        backend = JournalRedisBackend(location.redis_url, prefix=location.redis_prefix)
    return beating_journal(backend, heartbeat)


class RedisLock:
    """A lock key ``<prefix>:lock:<name>``, renewed by a thread of its holder while held."""

    def __init__(self, location: StorageUrl, name: str) -> None:
        self.key = f"{location.redis_prefix}:lock:{name}"
        self._redis = _client(location)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        # Not thread-local: the renewing thread needs the token the taking thread got.
        lock = self._redis.lock(self.key, timeout=REDIS_LOCK_SECONDS, blocking_timeout=WAIT_SECONDS,
                                thread_local=False)  # fmt: skip
        if not call_with_retry(lock.acquire):
            raise StorageError(f"could not take the study lock {self.key!r} in {WAIT_SECONDS}s")
        name = f"autosft-lock-{self.key}"
        renewing = ticking(REDIS_LOCK_SECONDS / 3, lambda: _renew(lock), name=name, first_now=False)
        try:
            with renewing:
                yield
        finally:
            with contextlib.suppress(Exception):  # expired or lost with the connection: it is free anyway
                lock.release()

    def close(self) -> None:
        self._redis.close()


def _renew(lock: Any) -> None:
    with contextlib.suppress(Exception):  # a blip: the next renewal, or the expiry, settles it
        lock.reacquire()


def _lock(location: StorageUrl, name: str) -> StoreLock:
    return RedisLock(location, name)


BACKEND = Backend(parse=_parse, open=_open, lock=_lock)
