"""Constraints and the forgetting guard on toy studies: constraint values from a trial's scores, every
trial's retained performance on the reference, bad constraints refused in one line with exit 2, and no
selection (best, seed-robust) ever picking an infeasible trial."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest
import yaml
from typer.testing import CliRunner

from autosft.attrs import EXTRA_METRICS_ATTR, REFERENCE_BASELINE_ATTR, RERUN_ATTR
from autosft.cli import build_app
from autosft.config import ConstraintConfig, parse_study
from autosft.errors import ConfigError
from autosft.evaluate.constraints import UNDEFINED_VIOLATION, constraint_values
from autosft.evaluate.holdout import selected_trial
from autosft.evaluate.retained import MAX_REFERENCE_ROWS
from autosft.evaluate.selection import configuration_trials, summarize_selection
from autosft.evaluate.verdict import best_trial_value
from autosft.search.controller import run_search
from autosft.testing import toy_manager, toy_study

REFERENCE = {"name": "toy_blobs", "options": {"rows": 200, "separation": 1.0}}


def test_constraint_values_are_optunas_feasible_when_zero_or_less() -> None:
    constraints = [ConstraintConfig(metric="recall", min=0.6), ConstraintConfig(metric="reference_drop", max=0.02),
                   ConstraintConfig(metric="roc_auc", max=0.9), ConstraintConfig(metric="f1", min=0.1)]  # fmt: skip
    values = constraint_values(constraints, {"recall": 0.5, "roc_auc": math.nan}, {"reference_drop": 0.01})
    assert values == {
        "recall >= 0.6": pytest.approx(0.1),
        "reference_drop <= 0.02": pytest.approx(-0.01),
        "roc_auc <= 0.9": UNDEFINED_VIOLATION,  # undefined on the trial: infeasible
        "f1 >= 0.1": UNDEFINED_VIOLATION,  # not scored at all
    }


def test_every_trial_stores_its_retained_performance(tmp_path: Path) -> None:
    notices: list[str] = []
    url = f"sqlite:///{tmp_path / 'study.db'}"
    config = parse_study(toy_study(url, budget={"n_trials": 2, "max_epochs": 2}, reference=REFERENCE), where="test")
    outcome = run_search(config, manager=toy_manager(), final_test=False, check_data=False, on_notice=notices.append)
    baseline = outcome.study.user_attrs[REFERENCE_BASELINE_ATTR]
    assert baseline["dataset"] == "toy_blobs" and baseline["split"] == "val" and baseline["metric"] == "roc_auc"
    assert 0 < baseline["rows"] <= MAX_REFERENCE_ROWS
    # The toy model starts from random weights: the baseline is said to mean little, in one line.
    assert baseline["meaningful"] is False and notices == [baseline["note"]] and "start random" in notices[0]
    for trial in outcome.study.trials:
        extra = trial.user_attrs[EXTRA_METRICS_ATTR]
        assert set(extra) >= {"retained_roc_auc", "retained_accuracy", "reference_drop"}
        assert extra["reference_drop"] == pytest.approx(baseline["pretrained"]["roc_auc"] - extra["retained_roc_auc"],
                                                        abs=2e-6)  # fmt: skip
        assert trial.constraints == {}  # no max_drop: measured, not a constraint


BAD_CONSTRAINTS = [
    (
        {"constraints": [{"metric": "acuracy", "min": 0.5}]},
        "constraints: unknown metric 'acuracy' (did you mean 'accuracy'?); metrics a constraint may bound "
        "(retained_<metric> and reference_drop need `reference:`; worst_slice_<metric> needs `slices:`): accuracy, "
        "balanced_accuracy,",
    ),
    ({"constraints": [{"metric": "reference_drop", "max": 0.1}]}, "unknown metric 'reference_drop'"),
    (
        {"constraints": [{"metric": "retained_acuracy", "min": 0.5}], "reference": REFERENCE},
        "(did you mean 'retained_accuracy'?); metrics a constraint may bound (worst_slice_<metric> needs `slices:`): "
        "accuracy,",
    ),
    (
        {"constraints": [{"metric": "accuracy", "min": 0.5, "max": 0.9}]},
        "constraints.0: constraint on 'accuracy': give exactly one of min or max",
    ),
    ({"constraints": [{"metric": "accuracy"}]}, "constraint on 'accuracy': give exactly one of min or max"),
    ({"reference": {**REFERENCE, "max_drop": -0.1}}, "reference.max_drop: Input should be greater than or equal to 0"),
]


@pytest.mark.parametrize("command", ["validate", "search"])
@pytest.mark.parametrize(("change", "message"), BAD_CONSTRAINTS)
def test_bad_constraints_are_one_line_and_exit_2(tmp_path: Path, command: str, change: dict, message: str) -> None:
    study = tmp_path / "study.yaml"
    study.write_text(yaml.safe_dump(toy_study(f"sqlite:///{tmp_path / 'study.db'}", **change)))
    result = CliRunner().invoke(build_app(toy_manager()), [command, str(study)])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output + result.stderr
    assert not (tmp_path / "study.db").exists()  # refused before any storage is touched


def test_constraints_on_the_guard_are_valid_with_a_reference(tmp_path: Path) -> None:
    study = tmp_path / "study.yaml"
    change = {"constraints": [{"metric": "retained_accuracy", "min": 0.5}], "reference": {**REFERENCE, "max_drop": 0.1}}
    study.write_text(yaml.safe_dump(toy_study(f"sqlite:///{tmp_path / 'study.db'}", **change)))
    result = CliRunner().invoke(build_app(toy_manager()), ["validate", str(study)])
    assert result.exit_code == 0, result.output


def _constrained_study(trials: list[tuple[float, float, dict | None]]) -> optuna.Study:
    """An in-memory study of complete trials, each (value, recall bound's violation, re-run tag)."""
    study = optuna.create_study(direction="maximize")
    for value, violation, rerun in trials:
        distributions = {"x": optuna.distributions.FloatDistribution(0, 1)}
        attrs = {} if rerun is None else {RERUN_ATTR: rerun}
        constraints = {"recall >= 0.5": violation}
        trial = optuna.trial.create_trial(value=value, params={"x": value}, distributions=distributions,
                                          user_attrs=attrs, constraints=constraints)  # fmt: skip
        study.add_trial(trial)
    return study


def test_no_selection_picks_an_infeasible_trial() -> None:
    study = _constrained_study([
        (0.9, 0.2, None),  # the best value, but it misses recall >= 0.5
        (0.8, 0.0, None),
        (0.7, -0.1, None),
        (0.85, 0.1, {"of": 1, "seed": 1}),  # trial 1's configuration misses it with another seed
        (0.7, -0.1, {"of": 2, "seed": 1}),
    ])  # fmt: skip
    assert selected_trial(study).number == 1 and best_trial_value(study, "roc_auc") == 0.8
    assert [trial.number for trial in configuration_trials(study, top_k=3)] == [1, 2]
    selection = summarize_selection(study, top_k=3, seeds=1, study_seed=0, metric="roc_auc")
    assert [row["infeasible_seeds"] for row in selection["configurations"]] == [[1], []]
    assert selection["selected_trial"] == 2


def test_a_study_without_a_feasible_trial_has_nothing_to_select() -> None:
    study = _constrained_study([(0.9, 0.2, None), (0.8, UNDEFINED_VIOLATION, None)])
    with pytest.raises(ConfigError, match="has no feasible trial: all 2 complete trial"):
        selected_trial(study)
    assert best_trial_value(study, "roc_auc") is None
