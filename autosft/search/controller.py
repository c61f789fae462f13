"""`autosft search` as a function: prepare the study, open or resume it, run trials, test the winner."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
import pluggy

from autosft.config import StudyConfig
from autosft.engine.device import pick_device
from autosft.evaluate.holdout import FINAL_TEST_ATTR, evaluate_on_test, selected_trial
from autosft.plugins import get_plugin_manager
from autosft.registry import collect_registry
from autosft.search.budget import StudyLock, set_target
from autosft.search.objective import TrialRunner
from autosft.search.prepare import PreparedStudy, check_components, prepare_study
from autosft.search.study import DEFAULT_TRIAL_ATTR, open_study
from autosft.search.worker import StudyCallback, work
from autosft.storage import open_storage

__all__ = ["SearchOutcome", "run_search"]


@dataclass
class SearchOutcome:
    """What one `autosft search` run did."""

    study: optuna.Study
    prepared: PreparedStudy
    trial_numbers: list[int]
    seconds: float
    final_test: dict[str, Any] | None = None
    stopped_reason: str | None = None
    states: dict[str, int] = field(default_factory=dict)


def run_search(
    config: StudyConfig,
    *,
    manager: pluggy.PluginManager | None = None,
    callbacks: Sequence[StudyCallback] = (),
    final_test: bool = True,
    device: str | None = None,
    on_prepared: Callable[[PreparedStudy, optuna.Study], None] | None = None,
) -> SearchOutcome:
    """Run ``config.budget`` more trials of the study, then evaluate the best one on test once.

    Re-running with the same study name and storage resumes the study: finished trials are kept
    and new ones are added. The default configuration is enqueued as trial 0 of a new study.
    """
    started = time.perf_counter()
    manager = manager or get_plugin_manager()
    # Cheap checks first, then the storage, then the slow part (data, pre-training): a typo or an
    # unreachable database fails in a second, and a bad name never creates a database file.
    check_components(config, collect_registry(manager))
    setup = pick_device(device)
    storage = open_storage(config.storage, config.heartbeat)
    prepared = prepare_study(config, manager)
    existing = _trial_count(storage, config.name)
    # Offset the seed by the trials already run so a resumed random sampler does not replay them.
    study = open_study(config, storage=storage, storage_url=config.storage, directions=prepared.directions,
                       sampler_seed=config.seed + existing)  # fmt: skip
    if existing == 0:
        study.enqueue_trial(prepared.space.default_params(), user_attrs={DEFAULT_TRIAL_ATTR: True})
    if on_prepared is not None:
        on_prepared(prepared, study)
    lock = StudyLock(config.storage, config.name)
    try:
        target = set_target(study, lock, config.budget.n_trials)
        runner = TrialRunner(prepared, study_name=config.name, device=setup)
        summary = work(study, runner, lock=lock, target=target, timeout=config.budget.timeout, callbacks=callbacks)
    finally:
        lock.close()
    trials = study.get_trials(deepcopy=False)
    outcome = SearchOutcome(
        study=study,
        prepared=prepared,
        trial_numbers=[trial.number for trial in trials[existing:]],
        seconds=0.0,
        stopped_reason=summary.stopped_reason,
        states=_state_counts(trials),
    )
    if final_test and outcome.states.get("COMPLETE"):
        outcome.final_test = evaluate_on_test(prepared, selected_trial(study), setup)
        study.set_user_attr(FINAL_TEST_ATTR, outcome.final_test)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _trial_count(storage: optuna.storages.BaseStorage, name: str) -> int:
    try:
        return storage.get_n_trials(storage.get_study_id_from_name(name))
    except KeyError:
        return 0


def _state_counts(trials: Sequence[optuna.trial.FrozenTrial]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts
