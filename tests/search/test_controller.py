"""`run_search` end to end on real storage backends: trial 0, resume, pruning, failures, hooks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import optuna
import pytest

from autosft.config import parse_study
from autosft.errors import ConfigError
from autosft.hookspecs import hookimpl
from autosft.search.controller import run_search
from autosft.search.prepare import prepare_study
from autosft.search.study import DEFAULT_TRIAL_ATTR, QUICK_LOOK_ATTR
from autosft.space import Float
from autosft.storage import open_storage
from autosft.testing import toy_manager, toy_study


@pytest.fixture
def cleanup(storage_url: str, study_name: str) -> Iterator[None]:
    yield
    with contextlib.suppress(KeyError):  # a test that failed early may not have created it
        optuna.delete_study(study_name=study_name, storage=open_storage(storage_url))


def _config(storage_url: str, study_name: str, **overrides):
    return parse_study(toy_study(storage_url, name=study_name, **overrides), where="test")


@pytest.mark.usefixtures("cleanup")
def test_search_stores_a_plain_optuna_study_and_resumes(storage_url: str, study_name: str) -> None:
    config = _config(storage_url, study_name, budget={"n_trials": 3, "max_epochs": 3})
    first = run_search(config, manager=toy_manager())
    assert first.trial_numbers == [0, 1, 2]

    study = optuna.load_study(study_name=study_name, storage=open_storage(storage_url))
    trial0 = study.trials[0]
    assert trial0.user_attrs[DEFAULT_TRIAL_ATTR] is True
    assert trial0.params == first.prepared.space.default_params()
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete and all({"metrics", "history", "timings", "plan"} <= set(t.user_attrs) for t in complete)
    assert first.final_test is not None and 0.5 < first.final_test["test_metrics"]["roc_auc"] <= 1.0
    finished_before = {t.number: (t.state, t.values) for t in study.trials}

    second = run_search(config, manager=toy_manager(), final_test=False)
    assert second.trial_numbers == [3, 4, 5]
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage_url))
    assert len(optuna.get_all_study_names(open_storage(storage_url))) >= 1
    assert [t.number for t in study.trials] == list(range(6))
    assert {t.number: (t.state, t.values) for t in study.trials[:3]} == finished_before
    assert sum(bool(t.user_attrs.get(DEFAULT_TRIAL_ATTR)) for t in study.trials) == 1


@pytest.mark.usefixtures("cleanup")
def test_a_study_with_another_direction_is_refused_and_kept(storage_url: str, study_name: str) -> None:
    run_search(_config(storage_url, study_name, budget={"n_trials": 1, "max_epochs": 2}), manager=toy_manager())
    flipped = _config(storage_url, study_name, objective={"metric": "roc_auc", "direction": "minimize"})
    with pytest.raises(ConfigError, match="already exists with direction\\(s\\) maximize"):
        run_search(flipped, manager=toy_manager())
    assert len(optuna.load_study(study_name=study_name, storage=open_storage(storage_url)).trials) == 1


def test_hyperband_prunes_weak_trials(sqlite_url: str) -> None:
    config = parse_study(toy_study(sqlite_url, budget={"n_trials": 8, "max_epochs": 4}), where="t")
    outcome = run_search(config, manager=toy_manager(), final_test=False)
    assert outcome.states.get("PRUNED", 0) >= 1
    assert outcome.states.get("COMPLETE", 0) >= 1


def test_starting_trials_are_never_pruned(sqlite_url: str) -> None:
    config = _config(sqlite_url, "starting", budget={"n_trials": 3, "max_epochs": 3},
                     pruner={"name": "median", "options": {"n_startup_trials": 1, "n_warmup_steps": 0}})  # fmt: skip
    study = optuna.create_study(storage=open_storage(sqlite_url), study_name="starting", direction="maximize")
    # A finished trial no real one can match (ROC AUC 2): the median pruner cuts every other trial at epoch 1.
    unbeatable = {step: 2.0 for step in (1, 2, 3)}
    study.add_trial(optuna.trial.create_trial(value=2.0, intermediate_values=unbeatable))
    params = prepare_study(config, toy_manager()).space.default_params()
    study.enqueue_trial(params, user_attrs={QUICK_LOOK_ATTR: True})
    study.enqueue_trial(params, user_attrs={DEFAULT_TRIAL_ATTR: True})
    study.enqueue_trial(params)
    run_search(config, manager=toy_manager(), final_test=False)
    states = [trial.state.name for trial in optuna.load_study(study_name="starting", storage=sqlite_url).trials[1:]]
    assert states == ["COMPLETE", "COMPLETE", "PRUNED"]


def test_repeated_failures_stop_the_search_with_the_reason(sqlite_url: str) -> None:
    space = {"learning_rate": {"value": 1e30}, "adaptation": {"value": "full"}, "batch_size": {"value": 16}}
    config = parse_study(toy_study(sqlite_url, search_space=space, budget={"n_trials": 8, "max_epochs": 2}), where="t")
    outcome = run_search(config, manager=toy_manager())
    assert outcome.states == {"FAIL": 5}
    assert outcome.final_test is None
    assert "5 trials failed in a row" in outcome.stopped_reason and "training loss became" in outcome.stopped_reason
    failed = optuna.load_study(study_name="toy", storage=sqlite_url).trials[0]
    assert failed.user_attrs["fail_reason"].startswith("training loss became")


class Recorder:
    """A plugin that adds a search dimension and records the lifecycle hooks it sees."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, object]] = []

    @hookimpl
    def autosft_extend_search_space(self, space, study) -> None:
        space.add(Float("my_temperature", 0.5, 2.0, 1.0))

    @hookimpl
    def autosft_trial_start(self, context) -> None:
        self.events.append(("start", context.trial_number, context.plan.extra["my_temperature"]))

    @hookimpl
    def autosft_epoch_end(self, context, epoch: int, metrics: Mapping[str, float]) -> None:
        self.events.append(("epoch", context.trial_number, epoch))

    @hookimpl
    def autosft_trial_end(self, context, result, state: str) -> None:
        self.events.append(("end", context.trial_number, state))


def test_plugins_extend_the_space_and_observe_trials(sqlite_url: str) -> None:
    recorder = Recorder()
    config = parse_study(toy_study(sqlite_url, budget={"n_trials": 2, "max_epochs": 2},
                                   search_space={"my_temperature": {"low": 0.5, "high": 0.6}}), where="t")  # fmt: skip
    run_search(config, manager=toy_manager(recorder), final_test=False)
    study = optuna.load_study(study_name="toy", storage=sqlite_url)
    assert all(0.5 <= t.params["my_temperature"] <= 0.6 for t in study.trials)
    starts = [event for event in recorder.events if event[0] == "start"]
    ends = [event for event in recorder.events if event[0] == "end"]
    assert [number for _, number, _ in starts] == [0, 1]
    assert [number for _, number, _ in ends] == [0, 1]
    assert ("epoch", 0, 1) in recorder.events


@pytest.mark.parametrize("sampler", ["tpe", "random", "cmaes", "gp"])
@pytest.mark.parametrize("pruner", ["hyperband", "median", "successive_halving", "none"])
def test_every_sampler_and_pruner_runs(sqlite_url: str, sampler: str, pruner: str) -> None:
    budget = {"n_trials": 3, "max_epochs": 2}
    study = toy_study(sqlite_url, sampler={"name": sampler}, pruner={"name": pruner}, budget=budget)
    config = parse_study(study, where="t")
    outcome = run_search(config, manager=toy_manager(), final_test=False)
    assert sum(outcome.states.values()) == 3
    assert outcome.states.get("FAIL", 0) == 0


def test_multi_objective_study_with_nsga2(sqlite_url: str) -> None:
    objectives = [{"metric": "roc_auc"}, {"metric": "log_loss"}]
    config = parse_study(
        toy_study(sqlite_url, objective=objectives, sampler={"name": "nsga2"}, budget={"n_trials": 4, "max_epochs": 2}),
        where="t",
    )
    outcome = run_search(config, manager=toy_manager())
    assert [d.name for d in outcome.study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert outcome.states == {"COMPLETE": 4}
    assert outcome.final_test is not None
    assert outcome.final_test["trial"] in {trial.number for trial in outcome.study.best_trials}


def test_bad_sampler_options_are_a_config_error(sqlite_url: str) -> None:
    config = parse_study(toy_study(sqlite_url, sampler={"name": "tpe", "options": {"n_startup": 3}}), where="t")
    with pytest.raises(ConfigError, match="sampler 'tpe' rejects its options"):
        run_search(config, manager=toy_manager())


class FailingStart:
    """A plugin whose trial-start hook raises: the trial fails before the objective can say why."""

    @hookimpl
    def autosft_trial_start(self, context) -> None:
        raise RuntimeError("the tracker is down")


def test_a_failure_outside_the_objective_still_gives_its_reason(sqlite_url: str) -> None:
    config = parse_study(toy_study(sqlite_url, budget={"n_trials": 6, "max_epochs": 1}), where="t")
    outcome = run_search(config, manager=toy_manager(FailingStart()), final_test=False)
    assert outcome.stopped_reason is not None
    assert "the last said: RuntimeError: the tracker is down" in outcome.stopped_reason
