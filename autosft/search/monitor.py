"""What a study's workers are doing, read from the study alone: for `autosft status`.

A worker is known by the ``worker`` user attribute its trials carry (host, process id, device).
A RUNNING trial whose worker stopped beating for longer than the grace period is stale: its worker
is gone, and the next worker to start a trial fails it and queues it again.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field

import optuna

from autosft.config import HeartbeatConfig, parse_study
from autosft.search.study import CONFIG_ATTR
from autosft.storage import open_storage
from autosft.storage.stale import stale_trial_numbers as stale_on

__all__ = ["WorkerActivity", "stale_trial_numbers", "worker_activity"]


def stale_trial_numbers(study: optuna.Study, storage_url: str) -> set[int]:
    """Numbers of RUNNING trials without a heartbeat for longer than the study's grace period."""
    stored = study.user_attrs.get(CONFIG_ATTR)
    heartbeat = parse_study(stored, where=f"study {study.study_name!r}").heartbeat if stored else HeartbeatConfig()
    # The study as its workers see it: on a storage with the study's heartbeat settings.
    storage = open_storage(storage_url, heartbeat, must_exist=True)
    return stale_on(optuna.load_study(study_name=study.study_name, storage=storage))


@dataclass
class WorkerActivity:
    """One worker's share of a study: what it runs now and what it finished, by state."""

    worker: str
    running: list[int] = field(default_factory=list)
    finished: dict[str, int] = field(default_factory=dict)
    last_seen: datetime.datetime | None = None


def worker_activity(trials: Sequence[optuna.trial.FrozenTrial]) -> list[WorkerActivity]:
    """Each worker that ran a trial of the study, busiest first."""
    by_worker: dict[str, WorkerActivity] = {}
    for trial in trials:
        name = trial.user_attrs.get("worker")
        if name is None or trial.state == optuna.trial.TrialState.WAITING:  # queued (a retry copies the name)
            continue
        activity = by_worker.setdefault(name, WorkerActivity(name))
        if trial.state == optuna.trial.TrialState.RUNNING:
            activity.running.append(trial.number)
        else:
            activity.finished[trial.state.name] = activity.finished.get(trial.state.name, 0) + 1
        seen = trial.datetime_complete or trial.datetime_start
        if seen is not None and (activity.last_seen is None or seen > activity.last_seen):
            activity.last_seen = seen
    return sorted(by_worker.values(), key=lambda activity: -sum(activity.finished.values()) - len(activity.running))
