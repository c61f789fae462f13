"""`validation: {folds: k}` end to end on SQLite: a trial's value is its folds' mean, every process
makes the same folds, a bad trial is pruned after its first fold, and the CLI shows and checks it."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import yaml
from typer.testing import CliRunner

from autosft.attrs import FOLD_SCORES_ATTR, FOLDS_ATTR
from autosft.cli import build_app
from autosft.config import parse_study
from autosft.errors import DataError
from autosft.progress import describe_trial
from autosft.search.controller import run_search
from autosft.search.prepare import prepare_study
from autosft.search.study import DEFAULT_TRIAL_ATTR
from autosft.testing import toy_manager, toy_study

SMALL = {"dataset": {"name": "toy_blobs", "options": {"rows": 120}}, "budget": {"n_trials": 2, "max_epochs": 2}}


def _config(url: str, **overrides):
    return parse_study(toy_study(url, **{**SMALL, **overrides}), where="test")


def test_a_trial_scores_the_mean_of_the_same_folds(sqlite_url: str) -> None:
    config = _config(sqlite_url, validation={"folds": 3})
    outcome = run_search(config, manager=toy_manager(), final_test=False)
    study = optuna.load_study(study_name="toy", storage=sqlite_url)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 2
    for trial in complete:
        folds = trial.user_attrs[FOLD_SCORES_ATTR]
        assert [fold["fold"] for fold in folds] == [1, 2, 3]
        assert trial.value == pytest.approx(sum(fold["values"][0] for fold in folds) / 3)
        assert trial.user_attrs["metrics"]["roc_auc"] == pytest.approx(trial.value, abs=1e-6)
    record = study.user_attrs[FOLDS_ATTR]
    assert record["folds"] == 3 and sum(record["validation_rows"]) == 120 + 60  # train+validation, test untouched
    # Another process (a worker, a resume) makes the same folds from the same study file.
    again = prepare_study(config, toy_manager())
    assert [fold.fingerprint for fold in again.folds] == [fold.fingerprint for fold in outcome.prepared.folds]
    # A resume on other folds would mix incomparable values: refused.
    with pytest.raises(DataError, match="scored its trials on 3 folds .* but this run would use 2 folds"):
        run_search(_config(sqlite_url, validation={"folds": 2}), manager=toy_manager(), check_data=False)
    with pytest.raises(DataError, match="but this run would use the validation split"):
        run_search(_config(sqlite_url), manager=toy_manager(), check_data=False)


def test_a_bad_trial_is_pruned_after_its_first_fold(sqlite_url: str) -> None:
    config = _config(sqlite_url, name="pruned", validation={"folds": 3},
                     pruner={"name": "median", "options": {"n_startup_trials": 1, "n_warmup_steps": 0}})  # fmt: skip
    study = optuna.create_study(storage=sqlite_url, study_name="pruned", direction="maximize")
    # A finished trial no real one can match (ROC AUC 2 after every fold): the median pruner cuts at fold 1.
    study.add_trial(optuna.trial.create_trial(value=2.0, intermediate_values={1: 2.0, 2: 2.0}))
    params = prepare_study(config, toy_manager()).space.default_params()
    study.enqueue_trial(params, user_attrs={DEFAULT_TRIAL_ATTR: True})  # a starting trial: never pruned
    study.enqueue_trial(params)
    run_search(config, manager=toy_manager(), final_test=False)
    default, bad = optuna.load_study(study_name="pruned", storage=sqlite_url).trials[1:]
    assert default.state == optuna.trial.TrialState.COMPLETE and len(default.user_attrs[FOLD_SCORES_ATTR]) == 3
    assert bad.state == optuna.trial.TrialState.PRUNED and bad.last_step == 1
    assert len(bad.user_attrs[FOLD_SCORES_ATTR]) == 1
    assert "PRUNED[/] after fold 1" in describe_trial(bad, "roc_auc")


def _invoke(*args: str):
    return CliRunner().invoke(build_app(toy_manager()), list(args))


def _write(folder: Path, **overrides) -> Path:
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(toy_study(f"sqlite:///{folder / 'study.db'}", **{**SMALL, **overrides})))
    return path


def test_status_and_best_show_the_folds(tmp_path: Path) -> None:
    study = _write(tmp_path, validation={"folds": 2}, budget={"n_trials": 1, "max_epochs": 2})
    searched = _invoke("search", str(study), "--no-final-test")
    assert searched.exit_code == 0, searched.output
    assert "validation holds" not in searched.stderr  # folds are set: no recommendation
    status = _invoke("status", "--study", str(study))
    assert status.exit_code == 0 and "folds 0." in status.output
    record = json.loads(_invoke("best", "--study", str(study), "--json").stdout)
    assert [fold["fold"] for fold in record["folds"]] == [1, 2] and record["cross_validation"]["folds"] == 2


def test_a_small_validation_split_gets_one_line_recommending_folds(tmp_path: Path) -> None:
    study = _write(tmp_path, budget={"n_trials": 1, "max_epochs": 1})
    validated = _invoke("validate", str(study))
    assert validated.exit_code == 0, validated.output
    assert "validation: validation holds 60 rows (< 500)" in validated.output
    assert "`validation: {folds: 5}`" in validated.output
    searched = _invoke("search", str(study), "--no-final-test")
    assert searched.exit_code == 0, searched.output
    assert [line for line in searched.stderr.splitlines() if "validation holds 60 rows" in line]
    folded = _invoke("validate", str(_write(tmp_path, validation={"folds": 4})))
    assert "cross-validation: 4 folds" in folded.output and "validation holds" not in folded.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"validation": {"folds": 1}}, "validation.folds: Input should be greater than or equal to 2"),
        ({"validation": {"folds": 5}, "task": "ranking"}, "validation.folds does not apply to ranking tasks"),
        (
            {"validation": {"folds": 20}, "dataset": {"name": "toy_blobs", "options": {"rows": 30}}},
            "validation.folds: 20 folds need at least 20 rows of every class",
        ),
    ],
)
@pytest.mark.parametrize("command", ["validate", "search"])
def test_bad_folds_are_one_line_and_exit_2(tmp_path: Path, command: str, change: dict, message: str) -> None:
    result = _invoke(command, str(_write(tmp_path, **change)))
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
