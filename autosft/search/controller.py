"""`autosft search` as a function: check the data, open or resume the study, run trials, re-run the
best with more seeds, test the winner."""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
import pluggy

from autosft.attrs import DATA_CHANGES_ATTR, DATA_FINGERPRINT_ATTR
from autosft.config import StudyConfig
from autosft.engine.device import DeviceSetup, pick_device
from autosft.errors import ConfigError, DataError
from autosft.evaluate.datacheck import DATA_CHECK_ATTR, DataReport, check_splits, refuse_errors
from autosft.evaluate.folds import record_folds
from autosft.evaluate.holdout import FINAL_TEST_ATTR, evaluate_on_test, has_selectable_trial, selected_trial
from autosft.evaluate.references import REFERENCES_ATTR, FittedReferences, validate_references
from autosft.evaluate.retained import ForgettingGuard, forgetting_guard
from autosft.evaluate.selection import SELECTION_ATTR, enqueue_reruns, summarize_selection, waiting_reruns
from autosft.plugins import get_plugin_manager
from autosft.registry import Registry, collect_registry
from autosft.search.budget import set_target, trial_target
from autosft.search.dispatch import THREADS_ENV, WORKER_INDEX_ENV, Slot, device_names, dispatch, plan_slots
from autosft.search.objective import TrialRunner
from autosft.search.portfolio import enqueue_portfolio, portfolio_file, portfolio_of
from autosft.search.prepare import PreparedStudy, check_components, prepare_study
from autosft.search.study import (
    AS_IS_ATTR,
    DEFAULT_TRIAL_ATTR,
    QUICK_LOOK_ATTR,
    load_existing_study,
    make_pruner,
    make_sampler,
    open_study,
    stored_config,
)
from autosft.search.warmstart import WarmCandidate, enqueue_warm_start, find_warm_start
from autosft.search.worker import StudyCallback, WorkSummary, work
from autosft.storage import open_storage, parse_storage_url
from autosft.storage.lock import StudyLock

__all__ = ["DATA_CHANGES_ATTR", "DATA_FINGERPRINT_ATTR", "SearchOutcome", "check_search_options", "join_study",
           "run_search"]  # fmt: skip


@dataclass
class SearchOutcome:
    """What one `autosft search` run did."""

    study: optuna.Study
    prepared: PreparedStudy
    trial_numbers: list[int]
    seconds: float
    final_test: dict[str, Any] | None = None
    data_check: DataReport | None = None
    selection: dict[str, Any] | None = None
    stopped_reason: str | None = None
    states: dict[str, int] = field(default_factory=dict)


def run_search(
    config: StudyConfig,
    *,
    manager: pluggy.PluginManager | None = None,
    callbacks: Sequence[StudyCallback] = (),
    final_test: bool = True,
    devices: str | None = None,
    workers: int | None = None,
    recycle_after: int | None = None,
    on_prepared: Callable[[PreparedStudy, optuna.Study], None] | None = None,
    check_data: bool = True,
    on_data_checked: Callable[[DataReport], None] | None = None,
    allow_data_change: bool = False,
    on_notice: Callable[[str], None] | None = None,
) -> SearchOutcome:
    """Run ``config.budget`` more trials of the study, then evaluate the selected one on test once.

    Re-running with the same study name and storage resumes the study: finished trials are kept
    and new ones are added. A new study starts from the default configuration, after a cheap quick
    look at it on a frozen prefix where the model allows one (:func:`~autosft.search.plan.quick_look_params`), then
    tries the best configurations of the earlier studies ``warm_start`` names (:mod:`autosft.search.warmstart`),
    then its model builder's portfolio (:mod:`autosft.search.portfolio`); what they did goes to
    ``on_notice``, one line each. With
    several ``workers`` (or devices), trials run in that many worker processes at once; each is
    replaced by a fresh process after ``recycle_after`` trials (default: GPU workers after each trial).

    Unless ``check_data`` is false, the data is checked first (:mod:`autosft.evaluate.datacheck`):
    errors raise :class:`~autosft.errors.DataError` before the study is opened; once it is open, the
    report (warnings included) goes to ``on_data_checked`` and into the study's user attributes.

    With ``select.seeds`` set, the best configurations are then re-run with more seeds, by the
    same workers, and chosen by mean score (:mod:`autosft.evaluate.selection`); the final test
    uses that choice.

    Resuming on changed data (another fingerprint) is refused unless ``allow_data_change``.
    """
    started = time.perf_counter()
    manager = manager or get_plugin_manager()
    # Cheap checks first, then the storage and earlier studies, then the slow part (data, pre-training):
    # a typo or an unreachable database fails in a second, and a bad name never creates a database file.
    registry = collect_registry(manager)
    slots, setup = _cheap_checks(config, registry, devices=devices, workers=workers, recycle_after=recycle_after)
    storage = open_storage(config.storage, config.heartbeat)
    existing = _trial_count(storage, config.name)
    warm = find_warm_start(config, storage, on_notice) if existing == 0 else []  # a resumed study had its own
    prepared = prepare_study(config, manager, registry)
    report = check_splits(prepared.splits, seed=config.seed) if check_data else None
    if report is not None:
        refuse_errors(report)
    study = _open_for_run(prepared, storage, existing=existing, allow_data_change=allow_data_change,
                          warm=warm, notice=on_notice)  # fmt: skip
    references = _before_first_trial(study, prepared, report, on_data_checked)
    guard = forgetting_guard(study, prepared, setup, notice=on_notice)
    if on_prepared is not None:
        on_prepared(prepared, study)
    summary = _run_trials(study, prepared, slots, setup, callbacks, guard)
    selection = _record_selection(study, prepared) if slots else None  # --workers 0: nothing ran here
    outcome = _outcome(study, prepared, summary, existing=existing, report=report, selection=selection)
    if final_test and slots:
        _test_selected(outcome, setup, references)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _test_selected(
    outcome: SearchOutcome, setup: DeviceSetup, references: tuple[dict[str, Any], FittedReferences]
) -> None:
    """The final test: retrain the selected trial and score it once on test, beside the references;
    nothing while no trial is complete and feasible, or the test split is empty."""
    prepared = outcome.prepared
    if outcome.states.get("COMPLETE") and len(prepared.splits.test) and has_selectable_trial(outcome.study):
        outcome.final_test = evaluate_on_test(prepared, selected_trial(outcome.study), setup, references=references)
        outcome.study.set_user_attr(FINAL_TEST_ATTR, outcome.final_test)


def _before_first_trial(
    study: optuna.Study,
    prepared: PreparedStudy,
    report: DataReport | None,
    on_data_checked: Callable[[DataReport], None] | None,
) -> tuple[dict[str, Any], FittedReferences]:
    """Score the references on validation (before any trial: they see validation only) and record
    them and the data check in the open study; the fitted references serve the final test. A resumed
    study keeps the references it stored for the same data, fitting only those it lacks."""
    final = study.user_attrs.get(FINAL_TEST_ATTR)
    stored_test = final.get("references") if isinstance(final, dict) else None
    references = validate_references(prepared, stored=study.user_attrs.get(REFERENCES_ATTR), stored_test=stored_test)
    study.set_user_attr(REFERENCES_ATTR, references[0])
    if report is not None:  # warnings are shown once the search is sure to start: a refusal stays one line
        study.set_user_attr(DATA_CHECK_ATTR, report.as_dict())
        if on_data_checked is not None:
            on_data_checked(report)
    return references


def _outcome(study: optuna.Study, prepared: PreparedStudy, summary: WorkSummary, *, existing: int,
             report: DataReport | None, selection: dict[str, Any] | None) -> SearchOutcome:  # fmt: skip
    """What the run did, before the final test: the trials it added and the study's states."""
    trials = study.get_trials(deepcopy=False)
    return SearchOutcome(
        study=study,
        prepared=prepared,
        trial_numbers=[trial.number for trial in trials[existing:]],
        seconds=0.0,
        data_check=report,
        selection=selection,
        stopped_reason=summary.stopped_reason,
        states=_state_counts(trials),
    )


def _open_for_run(
    prepared: PreparedStudy,
    storage: optuna.storages.BaseStorage,
    *,
    existing: int,
    allow_data_change: bool,
    warm: list[list[WarmCandidate]],
    notice: Callable[[str], None] | None,
) -> optuna.Study:
    """Create or resume the study (refusing changed data or folds unless allowed); a new one gets its
    starting trials, then the configurations of its warm start, then its model builder's portfolio."""
    config = prepared.config
    fingerprint = _check_data_unchanged(storage, config.name, prepared.splits.fingerprint, allow=allow_data_change)
    # Offset the seed by the trials already run so a resumed random sampler does not replay them.
    study = open_study(config, storage=storage, storage_url=config.storage, directions=prepared.directions,
                       sampler_seed=config.seed + existing)  # fmt: skip
    _record_data(study, prepared.splits.fingerprint, changed_from=fingerprint)
    record_folds(study, prepared.folds, existing=existing, allow=allow_data_change)
    if existing == 0:
        _enqueue_starting_trials(study, prepared)
        enqueue_warm_start(study, prepared.space, warm, top_k=config.warm_start.top_k, notice=notice)
        portfolio = portfolio_of(config, prepared.registry)
        if portfolio is not None:
            enqueue_portfolio(study, prepared.space, portfolio, config=config, pretrained=prepared.pretrained,
                              notice=notice)  # fmt: skip
    return study


def _cheap_checks(
    config: StudyConfig, registry: Registry, *, devices: str | None, workers: int | None, recycle_after: int | None
) -> tuple[list[Slot], DeviceSetup]:
    """Names, options and devices, checked before any storage or data is touched; the worker slots
    and this process's device."""
    check_components(config, registry)
    check_search_options(config)
    slots = plan_slots(devices, workers, recycle_after=recycle_after)
    for name in set(device_names(devices or "auto")):
        pick_device(name)  # a GPU that is not there fails now, not in every worker
    if len(slots) != 1:
        _require_shared_storage(config.storage)
    # In-process (one slot): train on the named device. In parallel, this process only runs the
    # final test, on the first GPU if there is one.
    return slots, pick_device(device_names(devices)[0] if len(slots) == 1 and devices not in (None, "auto") else None)


def _run_trials(study: optuna.Study, prepared: PreparedStudy, slots: list[Slot], setup: DeviceSetup,
                callbacks: Sequence[StudyCallback], guard: ForgettingGuard | None) -> WorkSummary:  # fmt: skip
    """The budget, then the seed re-runs the study asks for, under the study's lock."""
    config = prepared.config
    lock = StudyLock(config.storage, config.name)
    try:
        run = _TrialRun(study, prepared, slots, setup, lock, callbacks, guard)
        # The queue is served first: re-runs an interrupted run left there come on top of the budget.
        summary = run(config.budget.n_trials + waiting_reruns(study))
        select = config.select
        if select.seeds and slots and summary.stopped_reason is None:
            # The re-runs are trials like any other: the same workers (in-process or dispatched)
            # take them from the queue, within a budget raised by exactly their number.
            queued = enqueue_reruns(study, top_k=select.top_k, seeds=select.seeds, study_seed=config.seed)
            if queued:
                reruns = run(queued)
                summary = WorkSummary(summary.trial_numbers + reruns.trial_numbers, reruns.stopped_reason)
    finally:
        lock.close()
    return summary


def _record_selection(study: optuna.Study, prepared: PreparedStudy) -> dict[str, Any] | None:
    """Summarize the seed-robust selection into the study; ``None`` when this run's settings turn it off."""
    select = prepared.config.select
    selection = None
    if select.seeds:
        selection = summarize_selection(study, top_k=select.top_k, seeds=select.seeds, study_seed=prepared.config.seed,
                                        metric=prepared.objective_keys[0])  # fmt: skip
    study.set_user_attr(SELECTION_ATTR, selection)
    return selection


def check_search_options(config: StudyConfig) -> None:
    """Build the study's sampler and pruner once, as the search will, and read the portfolio file it
    names: an option Optuna rejects (a misspelled keyword, a bad value) or a bad portfolio file is a
    one-line :class:`ConfigError` before any trial runs."""
    make_sampler(config.sampler, seed=config.seed)
    make_pruner(config.effective_pruner, max_steps=config.pruning_steps)
    portfolio_file(config)


def _enqueue_starting_trials(study: optuna.Study, prepared: PreparedStudy) -> None:
    """A new study starts from the pre-trained model as is (zero epochs) where its head fits the
    task, then its quick look, if it has one, then the default configuration.

    A study of one trial trains the default alone: that one result should be the baseline, not the
    cheap preview. Both train to the end (see :class:`~autosft.search.objective.TrialRunner`).
    """
    several = prepared.config.budget.n_trials > 1
    if several and prepared.builder.head_is_pretrained(prepared.model_options, prepared.splits):
        study.enqueue_trial(prepared.space.default_params(), user_attrs={AS_IS_ATTR: True})
    if prepared.quick_look is not None and several:
        study.enqueue_trial(prepared.quick_look, user_attrs={QUICK_LOOK_ATTR: True})
    study.enqueue_trial(prepared.space.default_params(), user_attrs={DEFAULT_TRIAL_ATTR: True})


@dataclass
class _TrialRun:
    """Runs a number of trials more on the study: in this process, or in dispatched workers."""

    study: optuna.Study
    prepared: PreparedStudy
    slots: list[Slot]
    setup: DeviceSetup
    lock: StudyLock
    callbacks: Sequence[StudyCallback]
    guard: ForgettingGuard | None = None

    def __call__(self, n_trials: int) -> WorkSummary:
        config = self.prepared.config
        target = set_target(self.study, self.lock, n_trials)
        if not self.slots:  # --workers 0: the study and its budget wait for `autosft worker` elsewhere
            return WorkSummary([])
        if len(self.slots) > 1:
            return dispatch(self.study, self.slots, storage_url=config.storage, callbacks=self.callbacks,
                            timeout=config.budget.timeout)  # fmt: skip
        _limit_threads()
        runner = TrialRunner(self.prepared, study_name=config.name, device=self.setup, guard=self.guard)
        return work(self.study, runner, lock=self.lock, target=target, timeout=config.budget.timeout,
                    callbacks=self.callbacks)  # fmt: skip


def join_study(
    storage_url: str,
    study_name: str | None,
    *,
    manager: pluggy.PluginManager | None = None,
    device: str | None = None,
    callbacks: Sequence[StudyCallback] = (),
    max_trials: int | None = None,
    timeout: float | None = None,
    allow_data_change: bool = False,
) -> WorkSummary:
    """Work on an existing study until its budget is spent: what ``autosft worker`` runs.

    The study file is read from the study itself, so a worker on another machine needs only the
    storage URL and the study name (and the same plugins installed). The worker leaves after
    ``max_trials`` trials of its own, or once ``timeout`` (default: the study's) has passed.
    """
    manager = manager or get_plugin_manager()
    # Opened once plainly to read the study file, whose heartbeat settings the worker's storage needs.
    found = load_existing_study(open_storage(storage_url, must_exist=True), storage_url, study_name)
    config = stored_config(found, storage_url)
    registry = collect_registry(manager)
    check_components(config, registry)
    setup = pick_device(device)
    _limit_threads()
    storage = open_storage(storage_url, config.heartbeat)
    prepared = prepare_study(config, manager, registry)
    stored = _check_data_unchanged(storage, config.name, prepared.splits.fingerprint, allow=allow_data_change)
    index = int(os.environ.get(WORKER_INDEX_ENV, os.getpid()))
    # Workers with one seed would propose the same trials from the same history.
    seed = config.seed + storage.get_n_trials(storage.get_study_id_from_name(found.study_name)) + 7919 * (index + 1)
    study = optuna.load_study(
        study_name=config.name,
        storage=storage,
        sampler=make_sampler(config.sampler, seed=seed),
        pruner=make_pruner(config.effective_pruner, max_steps=config.pruning_steps),
    )
    _record_data(study, prepared.splits.fingerprint, changed_from=stored)
    lock = StudyLock(storage_url, config.name)
    try:
        guard = forgetting_guard(study, prepared, setup)
        runner = TrialRunner(prepared, study_name=config.name, device=setup, guard=guard)
        return work(study, runner, lock=lock, target=trial_target(study), callbacks=callbacks, max_trials=max_trials,
                    timeout=config.budget.timeout if timeout is None else timeout)  # fmt: skip
    finally:
        lock.close()


def _check_data_unchanged(storage: optuna.storages.BaseStorage, name: str, fingerprint: str, *, allow: bool) -> str:
    """The data fingerprint the study's trials ran on ('' for a new study); refuse another one unless ``allow``."""
    try:
        stored = str(storage.get_study_user_attrs(storage.get_study_id_from_name(name)).get(DATA_FINGERPRINT_ATTR, ""))
    except KeyError:  # a new study
        return ""
    if stored and stored != fingerprint and not allow:
        raise DataError(
            f"the data of study {name!r} changed since its trials ran (fingerprint {stored[:12]} then, "
            f"{fingerprint[:12]} now): its best trial would be judged on other data; use another --study-name, "
            "or pass --allow-data-change to go on (recorded in the study)"
        )
    return stored


def _record_data(study: optuna.Study, fingerprint: str, *, changed_from: str) -> None:
    """Store the data fingerprint; a change that was allowed goes into the study's history of changes."""
    if changed_from and changed_from != fingerprint:
        changes = [*study.user_attrs.get(DATA_CHANGES_ATTR, [])]
        changes.append({"from": changed_from, "to": fingerprint, "at": datetime.datetime.now().isoformat(),
                        "trials_before": len(study.get_trials(deepcopy=False))})  # fmt: skip
        study.set_user_attr(DATA_CHANGES_ATTR, changes)
    study.set_user_attr(DATA_FINGERPRINT_ATTR, fingerprint)


def _limit_threads() -> None:
    """Apply ``$AUTOSFT_TORCH_THREADS``: the dispatcher splits the cores between CPU workers."""
    threads = os.environ.get(THREADS_ENV)
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def _require_shared_storage(url: str) -> None:
    if not parse_storage_url(url).shared:
        raise ConfigError(
            "parallel workers need a database server: SQLite lets one process write at a time, so "
            "workers would fail on 'database is locked'; use e.g. --storage postgresql+psycopg://user@host/db"
        )


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
