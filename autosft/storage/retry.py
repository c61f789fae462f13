"""Riding out a database restart: storage calls retried with backoff on connection loss only.

A PostgreSQL or MySQL restart, a failover or a Redis blip drops every connection for seconds.
Without retries each worker dies with its trial, and a `tell` lost at the end of a long trial
loses the trial. :class:`RetryingStorage` wraps any Optuna storage and retries a call that failed
on the connection (never one that failed on the data, which would fail again) for up to a window,
with exponential backoff; `pool_pre_ping` then hands the retry a fresh connection.
"""

from __future__ import annotations

import errno
import logging
import re
import time
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial

from autosft.config import HeartbeatConfig
from autosft.errors import StorageError

try:  # Optuna keeps BaseHeartbeat private but documents it as the way to add heartbeats; imported here only
    from optuna.storages._heartbeat import BaseHeartbeat
except ImportError:  # pragma: no cover - a future Optuna that moves it
    raise StorageError("this Optuna release has no BaseHeartbeat; install optuna>=5,<6") from None

__all__ = ["RETRY_WINDOW_SECONDS", "BaseHeartbeat", "RetryingStorage", "call_with_retry", "is_transient",
           "stale_trial_retry", "unwritable_reason"]  # fmt: skip

logger = logging.getLogger(__name__)

#: How long a storage call keeps retrying before the error reaches the worker. A database restart
#: takes seconds; a failover up to a minute.
RETRY_WINDOW_SECONDS = 120.0
_FIRST_DELAY, _MAX_DELAY = 0.25, 8.0

Result = TypeVar("Result")


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` is a lost or refused connection (retry) rather than bad data (do not).

    A store that refuses writes (read-only, full) answers at once with the same refusal however
    often it is asked: that is never transient, though SQLite and MySQL report it as an
    ``OperationalError`` like a dropped connection.
    """
    import sqlalchemy.exc

    cause = _cause(error)
    if unwritable_reason(error) is not None:
        return False
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


def _cause(error: BaseException) -> BaseException:
    # Optuna's RDB storage wraps every SQLAlchemy error of a commit in StorageInternalError.
    if isinstance(error, optuna.exceptions.StorageInternalError) and error.__cause__ is not None:
        return error.__cause__
    return error


#: How databases say that they take no writes: SQLite, PostgreSQL (a full disk, a standby), MySQL,
#: Redis (``MISCONF``, a ``READONLY`` replica, ``OOM``).
_UNWRITABLE = re.compile(
    r"readonly database|read-only|read only|disk is full|disk full|no space left|quota exceeded|"
    r"could not extend file|the table .* is full|misconf|oom command not allowed",
    re.IGNORECASE,
)
_UNWRITABLE_ERRNOS = {errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM}


def unwritable_reason(error: BaseException) -> str | None:
    """The reason in a line, when ``error`` says the store cannot be written (read-only or full)."""
    cause = _cause(error)
    if isinstance(cause, OSError) and not isinstance(cause, ConnectionError) and cause.errno in _UNWRITABLE_ERRNOS:
        return f"{cause.strerror}: {cause.filename}" if cause.filename else str(cause.strerror)
    text = str(getattr(cause, "orig", None) or cause).strip()
    if not text or not _UNWRITABLE.search(text):
        return None
    return text.splitlines()[0][:200]


def call_with_retry(
    call: Callable[..., Result], *args: Any, window: float = RETRY_WINDOW_SECONDS, **kwargs: Any
) -> Result:
    """``call(*args, **kwargs)``, retried with exponential backoff while it fails transiently.

    A store that refuses writes fails at once with a :class:`~autosft.errors.StorageError`.
    """
    deadline = time.monotonic() + window
    delay = _FIRST_DELAY
    while True:
        try:
            return call(*args, **kwargs)
        except Exception as error:
            unwritable = unwritable_reason(error)
            if unwritable is not None:
                raise StorageError(f"the study storage cannot be written (read-only or full): {unwritable}") from error
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
