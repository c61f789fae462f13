"""Study storage: a URL in, an Optuna storage out, with heartbeats and retries on connection loss.

SQLAlchemy URLs open Optuna's RDB storage (SQLite embedded by default; PostgreSQL or MySQL when
several machines share a study); ``journal:///path`` and ``redis://`` open its journal storage,
with heartbeats added. The backend is chosen by the URL's scheme (:mod:`autosft.storage.backend`).
Every storage comes wrapped in :class:`RetryingStorage`, so a database restart mid-study costs a
pause, not a worker.
"""

from __future__ import annotations

from autosft.config import HeartbeatConfig
from autosft.storage.backend import backend_for, parse_storage_url
from autosft.storage.retry import RETRY_WINDOW_SECONDS, RetryingStorage
from autosft.storage.urls import StorageUrl, mask_url

__all__ = ["RetryingStorage", "StorageUrl", "mask_url", "open_storage", "parse_storage_url"]


def open_storage(
    url: str,
    heartbeat: HeartbeatConfig | None = None,
    *,
    must_exist: bool = False,
    window: float = RETRY_WINDOW_SECONDS,
) -> RetryingStorage:
    """Open (creating it if needed) the study storage at ``url``.

    ``must_exist`` is for commands that only read: a SQLite or journal file that is not there is
    an error rather than a new empty store. With ``heartbeat``, running trials beat every
    ``interval`` seconds; one silent for ``grace_period`` is failed by the next worker to start a
    trial and re-queued with the same parameters, at most ``max_retries`` times. ``window`` is how
    long each call is retried while the storage is unreachable.
    """
    backend = backend_for(url)
    inner = backend.open(backend.parse(url, must_exist), heartbeat)
    # mypy cannot see the forwarding methods, which retry.py generates after the class body.
    return RetryingStorage(inner, window=window)  # type: ignore[abstract]
