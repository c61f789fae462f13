"""Constraints and the forgetting guard on toy studies: constraint values from a trial's scores, every
trial's retained performance on the reference, and bad constraints refused in one line with exit 2."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from autosft.attrs import EXTRA_METRICS_ATTR, REFERENCE_BASELINE_ATTR
from autosft.cli import build_app
from autosft.config import ConstraintConfig, parse_study
from autosft.evaluate.constraints import UNDEFINED_VIOLATION, constraint_values
from autosft.evaluate.retained import MAX_REFERENCE_ROWS
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
        "(retained_<metric> and reference_drop need `reference:`): accuracy, balanced_accuracy,",
    ),
    ({"constraints": [{"metric": "reference_drop", "max": 0.1}]}, "unknown metric 'reference_drop'"),
    (
        {"constraints": [{"metric": "retained_acuracy", "min": 0.5}], "reference": REFERENCE},
        "(did you mean 'retained_accuracy'?); metrics a constraint may bound: accuracy,",
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
