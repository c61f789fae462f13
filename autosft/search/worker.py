"""One worker's loop: take trials of a study within its shared budget and run them until it is spent.

The loop is Optuna's ``ask``/``tell`` with three things ``study.optimize`` cannot give us: the
budget check and the ``ask`` happen under a study-wide lock (an exact budget across machines), an
interrupted trial is re-queued with its parameters (preemption loses no sampled configuration),
and a streak of failures stops the worker with the reason.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import optuna

from autosft.search.budget import ask_within_budget
from autosft.storage.lock import StudyLock
from autosft.storage.stale import FAIL_REASON_ATTR, LOST_ATTR, requeue, storage_of, trial_id
from autosft.storage.ticker import ticking

__all__ = ["MAX_CONSECUTIVE_FAILURES", "StudyCallback", "WorkSummary", "work"]

logger = logging.getLogger(__name__)

#: After this many failed trials in a row a worker stops: the cause is almost never the sampled
#: values, and burning the budget on it helps nobody.
MAX_CONSECUTIVE_FAILURES = 5

#: How often a worker whose budget is taken looks again while other workers' trials run: a stale
#: trial is found within the grace period anyway, and a finished study frees the worker at once.
IDLE_POLL_SECONDS = 2.0

StudyCallback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]
Objective = Callable[[optuna.Trial], float | Sequence[float]]


@dataclass
class WorkSummary:
    """What one worker did: its trial numbers and, when it stopped on failures, why."""

    trial_numbers: list[int]
    stopped_reason: str | None = None


@contextlib.contextmanager
def _heartbeat(storage: optuna.storages.BaseStorage, trial_id: int) -> Iterator[None]:
    """Beat for a running trial so a dead worker's trial is found stale and retried."""
    interval = getattr(storage, "get_heartbeat_interval", lambda: None)()
    if interval is None:
        yield
        return
    beat = storage.record_heartbeat  # type: ignore[attr-defined]
    with ticking(interval, lambda: beat(trial_id), name=f"autosft-heartbeat-{trial_id}", first_now=True):
        yield


def _run_trial(study: optuna.Study, trial: optuna.Trial, objective: Objective) -> optuna.trial.FrozenTrial:
    with _heartbeat(storage_of(study), trial_id(study, trial.number)):
        try:
            values = objective(trial)
        except optuna.TrialPruned:
            return study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        except KeyboardInterrupt:
            # Lost, not failed on its own: it does not count toward the budget, and runs again.
            if FAIL_REASON_ATTR not in trial.user_attrs:
                trial.set_user_attr(FAIL_REASON_ATTR, "interrupted (SIGINT or SIGTERM)")
            trial.set_user_attr(LOST_ATTR, "interrupted")
            requeue(study, study.tell(trial, state=optuna.trial.TrialState.FAIL))
            raise
        except Exception as error:  # the trial fails; the worker goes on with the next one
            if FAIL_REASON_ATTR not in trial.user_attrs:  # raised before the objective could say why
                trial.set_user_attr(FAIL_REASON_ATTR, f"{type(error).__name__}: {error}")
            logger.warning("trial %d failed: %s", trial.number, trial.user_attrs.get(FAIL_REASON_ATTR, repr(error)))
            return study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return study.tell(trial, values)


def work(
    study: optuna.Study,
    objective: Objective,
    *,
    lock: StudyLock,
    target: int,
    timeout: float | None = None,
    callbacks: Sequence[StudyCallback] = (),
    max_trials: int | None = None,
) -> WorkSummary:
    """Run trials until the study holds ``target`` finished or running trials, or ``timeout`` passes.

    With ``max_trials`` the worker leaves after that many trials of its own, so that its process
    can be replaced by a fresh one (the dispatcher recycles GPU workers this way). Once the budget
    is taken, a worker waits while other workers' trials still run: should one of them die, its
    trial goes stale, is queued again, and this worker runs it, so the study still ends complete.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    summary = WorkSummary([])
    streak = 0
    while (deadline is None or time.monotonic() < deadline) and len(summary.trial_numbers) != max_trials:
        trial = ask_within_budget(study, lock, target)
        if trial is None:
            interval = getattr(storage_of(study), "get_heartbeat_interval", lambda: None)()
            running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
            if interval is None or not running:
                break
            time.sleep(min(interval, IDLE_POLL_SECONDS))
            continue
        finished = _run_trial(study, trial, objective)
        summary.trial_numbers.append(finished.number)
        for callback in callbacks:
            callback(study, finished)
        streak = streak + 1 if finished.state == optuna.trial.TrialState.FAIL else 0
        if streak >= MAX_CONSECUTIVE_FAILURES:
            last = finished.user_attrs.get(FAIL_REASON_ATTR, "see the log")
            summary.stopped_reason = f"{streak} trials failed in a row; the last said: {last}"
            break
    return summary
