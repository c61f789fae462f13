"""Riding out a database restart: storage calls retried with backoff on connection loss only.

A PostgreSQL or MySQL restart, a failover or a Redis blip drops every connection for seconds.
Without retries each worker dies with its trial, and a `tell` lost at the end of a long trial
loses the trial. :class:`RetryingStorage` wraps any Optuna storage and retries a call that failed
on the connection (never one that failed on the data, which would fail again) for up to a window,
with exponential backoff; `pool_pre_ping` then hands the retry a fresh connection.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import optuna
from optuna.storages import BaseStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.trial import FrozenTrial

from autosft.config import HeartbeatConfig

__all__ = ["RETRY_WINDOW_SECONDS", "RetryingStorage", "call_with_retry", "is_transient", "stale_trial_retry"]

logger = logging.getLogger(__name__)

#: How long a storage call keeps retrying before the error reaches the worker. A database restart
#: takes seconds; a failover up to a minute.
RETRY_WINDOW_SECONDS = 120.0
_FIRST_DELAY, _MAX_DELAY = 0.25, 8.0

Result = TypeVar("Result")


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` is a lost or refused connection (retry) rather than bad data (do not)."""
    import sqlalchemy.exc

    # Optuna's RDB storage wraps every SQLAlchemy error of a commit in StorageInternalError.
    cause = error.__cause__ if isinstance(error, optuna.exceptions.StorageInternalError) else error
    if isinstance(cause, sqlalchemy.exc.DBAPIError):
        return cause.connection_invalidated or isinstance(
            cause, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)
        )
    if isinstance(cause, ConnectionError | TimeoutError):
        return True
    try:
        import redis
    except ImportError:
        return False
    return isinstance(cause, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError)


def call_with_retry(
    call: Callable[..., Result], *args: Any, window: float = RETRY_WINDOW_SECONDS, **kwargs: Any
) -> Result:
    """``call(*args, **kwargs)``, retried with exponential backoff while it fails transiently."""
    deadline = time.monotonic() + window
    delay = _FIRST_DELAY
    while True:
        try:
            return call(*args, **kwargs)
        except Exception as error:
            remaining = deadline - time.monotonic()
            if not is_transient(error) or remaining <= 0:
                raise
            reason = str(error.__cause__ or error).strip().splitlines()[0][:200]
            logger.warning("storage unreachable (%s); retrying in %.2gs", reason, min(delay, remaining))
            time.sleep(min(delay, remaining))  # the last try falls on the deadline
            delay = min(delay * 2, _MAX_DELAY)


class RetryingStorage(BaseStorage, BaseHeartbeat):
    """Any Optuna storage whose every call is retried on connection loss.

    It forwards the whole storage and heartbeat interface, so a study on it is a plain Optuna
    study, heartbeats and stale-trial retries included.
    """

    def __init__(self, inner: BaseStorage, *, window: float = RETRY_WINDOW_SECONDS) -> None:
        self.inner = inner
        self.window = window

    def __getattr__(self, name: str) -> Any:  # anything beyond the interface (e.g. RDB's engine)
        return getattr(self.inner, name)


def _forwarded(name: str) -> Callable[..., Any]:
    def method(self: RetryingStorage, *args: Any, **kwargs: Any) -> Any:
        return call_with_retry(getattr(self.inner, name), *args, window=self.window, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"The wrapped storage's ``{name}``, retried on connection loss."
    return method


# Generated rather than written out: the forwarding is identical for each of the ~30 methods, and
# a method Optuna adds to the interface is then forwarded too.
_INTERFACE = {
    name
    for base in (BaseStorage, BaseHeartbeat)
    for name, value in vars(base).items()
    if callable(value) and (not name.startswith("_") or name == "_get_stale_trial_ids")
} - {"get_failed_trial_callback"}  # deprecated alias of get_heartbeat_stale_trial_callback
for _name in sorted(_INTERFACE):
    setattr(RetryingStorage, _name, _forwarded(_name))
RetryingStorage.__abstractmethods__ = frozenset()


def stale_trial_retry(heartbeat: HeartbeatConfig | None) -> Callable[[optuna.Study, FrozenTrial], None] | None:
    """The callback that queues a stale trial again with its parameters, at most ``max_retries`` times."""
    if heartbeat is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(heartbeat.max_retries)
