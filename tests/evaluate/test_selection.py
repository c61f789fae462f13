"""Seed-robust selection on real storages: re-runs as tagged trials, choice by mean, resume, workers."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml
from scipy import stats
from typer.testing import CliRunner

from autosft import cli
from autosft.cli import build_app
from autosft.config import parse_study
from autosft.errors import ConfigError
from autosft.evaluate.holdout import selected_trial
from autosft.evaluate.selection import (
    RERUN_ATTR,
    SELECTION_ATTR,
    enqueue_reruns,
    extra_seeds,
    rerun_tag,
    summarize_selection,
)
from autosft.plugins import get_plugin_manager
from autosft.search.controller import run_search
from autosft.storage import open_storage
from autosft.testing import toy_manager, toy_study
from autosft.views import selection_table

FAST = {"n_trials": 3, "max_epochs": 2}


@pytest.fixture
def cleanup(storage_url: str, study_name: str) -> Iterator[None]:
    yield
    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=study_name, storage=open_storage(storage_url))


def _config(url: str, name: str, *, seeds: int, top_k: int = 2, n_trials: int = 3):
    # No pruner: every proposed trial completes, so the number of candidates is known.
    raw = toy_study(url, name=name, budget={**FAST, "n_trials": n_trials}, select={"top_k": top_k, "seeds": seeds},
                    pruner={"name": "none"})  # fmt: skip
    return parse_study(raw, where="test")


def _reruns(study: optuna.Study) -> dict[tuple[int, int], list[optuna.trial.FrozenTrial]]:
    found: dict[tuple[int, int], list[optuna.trial.FrozenTrial]] = {}
    for trial in study.trials:
        tag = rerun_tag(trial)
        if tag is not None:
            found.setdefault((tag["of"], tag["seed"]), []).append(trial)
    return found


def _check_record(study: optuna.Study, seeds: int) -> dict:
    record = study.user_attrs[SELECTION_ATTR]
    assert record["seeds"] == [0, *extra_seeds(0, seeds)] and record["metric"] == "roc_auc"
    for row in record["configurations"]:
        values = [study.trials[number].value for number in row["trials"]]
        assert row["values"] == values and row["n"] == seeds + 1
        assert row["mean"] == pytest.approx(np.mean(values))
        half = stats.t.ppf(0.975, seeds) * np.std(values, ddof=1) / np.sqrt(seeds + 1)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((row["mean"] - half, row["mean"] + half))
    best_mean = max(row["mean"] for row in record["configurations"])
    [chosen] = [row for row in record["configurations"] if row["trial"] == record["selected_trial"]]
    assert chosen["mean"] == best_mean
    return record


@pytest.mark.usefixtures("cleanup")
def test_top_configurations_are_re_run_and_chosen_by_mean(storage_url: str, study_name: str) -> None:
    outcome = run_search(_config(storage_url, study_name, seeds=2), manager=toy_manager())
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage_url))
    reruns = _reruns(study)
    originals = {of for of, _ in reruns}
    assert len(originals) == 2 and {seed for _, seed in reruns} == {1, 2}
    assert len(study.trials) == 3 + 4 and all(len(tries) == 1 for tries in reruns.values())
    for (of, seed), [trial] in reruns.items():
        assert trial.state == optuna.trial.TrialState.COMPLETE and trial.params == study.trials[of].params
        assert trial.user_attrs["plan"]["seed"] == seed and not trial.intermediate_values  # never pruned
    proposed = [t for t in study.trials if rerun_tag(t) is None and t.state == optuna.trial.TrialState.COMPLETE]
    top = sorted(proposed, key=lambda t: -t.value)[:2]
    assert originals == {t.number for t in top}
    record = _check_record(study, seeds=2)
    assert outcome.selection == record
    assert selected_trial(study).number == record["selected_trial"]
    assert outcome.final_test is not None and outcome.final_test["trial"] == record["selected_trial"]
    assert len(selection_table(record).rows) == 2


@pytest.mark.usefixtures("cleanup")
def test_re_running_the_search_repeats_no_re_run(storage_url: str, study_name: str) -> None:
    run_search(_config(storage_url, study_name, seeds=1), manager=toy_manager(), final_test=False)
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage_url))
    before = {key: [t.number for t in tries] for key, tries in _reruns(study).items()}
    assert {seed for _, seed in before} == {1}
    # An interrupted run leaves re-runs in the queue: the next run takes them, and queues no copy.
    enqueue_reruns(study, top_k=3, seeds=2, study_seed=0)
    queued = {key for key, tries in _reruns(study).items() if tries[-1].state == optuna.trial.TrialState.WAITING}
    assert queued and all(seed == 2 or of not in {o for o, _ in before} for of, seed in queued)
    outcome = run_search(_config(storage_url, study_name, seeds=2, top_k=3, n_trials=1), manager=toy_manager(),
                         final_test=False)  # fmt: skip
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage_url))
    after = _reruns(study)
    assert all(len(tries) == 1 for tries in after.values()), Counter({k: len(v) for k, v in after.items()})
    assert {key: [t.number for t in after[key]] for key in before} == before  # seed 1 re-runs kept as they were
    assert not study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert sum(rerun_tag(t) is None for t in study.trials) == 3 + 1  # the queued re-runs took no budget
    record = _check_record(study, seeds=2)
    assert len(record["configurations"]) == 3 and outcome.selection == record


@pytest.mark.slow  # two rounds of worker processes: about a minute on two busy cores
@pytest.mark.usefixtures("cleanup")
def test_parallel_workers_run_the_re_runs(storage_url: str, study_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if storage_url.startswith("sqlite"):
        pytest.skip("parallel workers need a database server")
    monkeypatch.setenv("AUTOSFT_PLUGINS", "autosft.testing:ToyPlugin")  # the workers load it from there
    manager = get_plugin_manager(load_entry_points=False)
    outcome = run_search(_config(storage_url, study_name, seeds=1), manager=manager, workers=2,
                         devices="cpu", final_test=False)  # fmt: skip
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage_url))
    assert len(study.trials) == 3 + 2 and len(_reruns(study)) == 2
    assert all(" on cpu" in t.user_attrs["worker"] for t in study.trials)  # all ran in the workers
    assert outcome.selection == _check_record(study, seeds=1)


def _frozen(value: float, **user_attrs: object) -> optuna.trial.FrozenTrial:
    dist = optuna.distributions.FloatDistribution(0, 1)
    return optuna.trial.create_trial(value=value, params={"x": value}, distributions={"x": dist}, user_attrs=user_attrs)


def test_a_lucky_re_run_is_never_the_best_trial_and_a_failed_seed_disqualifies() -> None:
    study = optuna.create_study(direction="maximize")
    for value in (0.70, 0.80):
        study.add_trial(_frozen(value))
    study.add_trial(_frozen(0.99, **{RERUN_ATTR: {"of": 0, "seed": 1}}))
    assert selected_trial(study).number == 1  # the best the search proposed, not the lucky seed
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, params={"x": 0.8}, distributions=dist,
                                              user_attrs={RERUN_ATTR: {"of": 1, "seed": 1}}))  # fmt: skip
    record = summarize_selection(study, top_k=2, seeds=1, study_seed=0, metric="m")
    rows = {row["trial"]: row for row in record["configurations"]}
    assert rows[1]["failed_seeds"] == [1] and rows[0]["values"] == [0.70, 0.99]
    assert record["selected_trial"] == 0  # trial 1 lost a seed: unstable, not chosen
    study.set_user_attr(SELECTION_ATTR, record)
    assert selected_trial(study).number == 0


def test_select_options_are_validated() -> None:
    raw = toy_study("sqlite://", select={"top_k": 2, "seeds": 3})
    assert parse_study(raw, where="t").select.seeds == 3
    with pytest.raises(ConfigError, match="select.seed: Extra inputs are not permitted"):
        parse_study(toy_study("sqlite://", select={"seed": 3}), where="t")
    with pytest.raises(ConfigError, match="select.top_k: Input should be greater than or equal to 1"):
        parse_study(toy_study("sqlite://", select={"top_k": 0}), where="t")
    two = [{"metric": "roc_auc"}, {"metric": "log_loss"}]
    with pytest.raises(ConfigError, match="seed-robust selection ranks configurations by one objective"):
        parse_study(toy_study("sqlite://", objective=two, pruner={"name": "none"}, select={"seeds": 2}), where="t")


def test_cli_search_status_and_best_show_the_selection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for shown in (cli.console, cli.errors):
        monkeypatch.setattr(shown, "width", 250)  # table cells unfolded, so notes read whole
    study = toy_study(f"sqlite:///{tmp_path / 'study.db'}", budget=FAST, pruner={"name": "none"},
                      select={"top_k": 1, "seeds": 2})  # fmt: skip
    study_file = tmp_path / "study.yaml"
    study_file.write_text(yaml.safe_dump(study))
    app = build_app(toy_manager())
    searched = CliRunner().invoke(app, ["search", str(study_file)])
    assert searched.exit_code == 0, searched.output
    assert "seed-robust selection: roc_auc over 3 seeds" in searched.stdout
    assert "selected (best mean over seeds) trial" in searched.stdout
    assert searched.stderr.count("re-run of trial") == 2
    status = CliRunner().invoke(app, ["status", "--study", str(study_file)])
    assert status.stdout.count("re-run of trial") == 2 and "95% CI" in status.stdout
    best = json.loads(CliRunner().invoke(app, ["best", "--study", str(study_file), "--json"]).stdout)
    assert best["trial"] == best["selection"]["selected_trial"] == best["final_test"]["trial"]
    assert best["selection"]["configurations"][0]["n"] == 3
