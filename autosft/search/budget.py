"""An exact trial budget shared by every worker of a study, on any number of machines.

Under a study-wide database lock a worker counts the trials that are finished or running
(COMPLETE, PRUNED, RUNNING) and asks for a new trial only below the target. Failed trials do not
count, so a trial lost to a crash is replaced (first by its heartbeat retry, which waits in the
queue with the same parameters), and the study ends with exactly the target of finished trials.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
import zlib
from collections.abc import Iterator

import optuna
import sqlalchemy
from sqlalchemy.pool import NullPool

from autosft.errors import ConfigError

__all__ = ["TARGET_ATTR", "StudyLock", "ask_within_budget", "set_target", "trial_target"]

#: Study user attribute: how many finished trials the study is to hold when its workers stop.
TARGET_ATTR = "autosft_trial_target"

_COUNTED = (
    optuna.trial.TrialState.COMPLETE,
    optuna.trial.TrialState.PRUNED,
    optuna.trial.TrialState.RUNNING,
)


class StudyLock:
    """A lock on one study that holds across processes and machines.

    PostgreSQL uses an advisory lock, MySQL/MariaDB ``GET_LOCK``; SQLite serves a single process
    (parallel workers on SQLite are refused), where a thread lock suffices.
    """

    def __init__(self, url: str, study_name: str) -> None:
        self.name = f"autosft:{study_name}"
        self.backend = sqlalchemy.engine.make_url(url).get_backend_name()
        self._thread_lock = threading.Lock()
        self._engine = None if self.backend == "sqlite" else sqlalchemy.create_engine(url, poolclass=NullPool)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            if self._engine is None:
                yield
                return
            with self._engine.connect() as connection:
                if self.backend == "postgresql":
                    key = zlib.crc32(self.name.encode())
                    connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": key})
                    try:
                        yield
                    finally:
                        connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                elif self.backend in {"mysql", "mariadb"}:
                    connection.execute(sqlalchemy.text("SELECT GET_LOCK(:name, 600)"), {"name": self.name})
                    try:
                        yield
                    finally:
                        connection.execute(sqlalchemy.text("SELECT RELEASE_LOCK(:name)"), {"name": self.name})
                else:
                    raise ConfigError(f"parallel workers need PostgreSQL or MySQL storage, not {self.backend}")

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _spent(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=_COUNTED))


def set_target(study: optuna.Study, lock: StudyLock, n_trials: int) -> int:
    """Raise the study's target to ``n_trials`` beyond the trials it holds; return the new target."""
    with lock.held():
        target = _spent(study) + n_trials
        study.set_user_attr(TARGET_ATTR, target)
    return target


def trial_target(study: optuna.Study) -> int:
    """The study's target; a study started by another tool has none, and workers cannot join it."""
    target = study.user_attrs.get(TARGET_ATTR)
    if not isinstance(target, int):
        raise ConfigError(f"study {study.study_name!r} has no trial budget: start it with `autosft search`")
    return target


def ask_within_budget(study: optuna.Study, lock: StudyLock, target: int) -> optuna.Trial | None:
    """Start the next trial (a queued one first) if the budget allows, else ``None``.

    Counting and asking happen under the lock, so two workers never both take the last slot.
    """
    with lock.held():
        if _spent(study) >= target:
            return None
        with warnings.catch_warnings():
            # Optuna warns that heartbeats expect study.optimize; our worker loop beats itself.
            warnings.filterwarnings("ignore", message="Heartbeat of storage", category=UserWarning)
            trial = study.ask()
        # Beat once at once: a RUNNING trial with no heartbeat yet is never found stale, so a
        # worker killed before its heartbeat thread starts would leave it RUNNING for ever.
        if getattr(study._storage, "get_heartbeat_interval", lambda: None)() is not None:
            study._storage.record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]
        return trial
