"""The forgetting guard and constraints on a quickstart-like fraud study with its ``reference:``: every
trial stores its retained performance on another segment, and a trial that forgets too much
(``reference.max_drop``) or misses a validation-metric bound (``constraints``) is marked infeasible
and never selected, though it scores best on the objective."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest
from typer.testing import CliRunner

from autosft.attrs import AS_IS_ATTR, EXTRA_METRICS_ATTR, REFERENCE_BASELINE_ATTR
from autosft.cli import build_app
from autosft.config import parse_study
from autosft.evaluate.constraints import is_feasible
from autosft.evaluate.holdout import selected_trial
from autosft.export import export_study
from autosft.export.exporter import RUN_CARD
from autosft.plugins import get_plugin_manager
from autosft.report import write_report
from autosft.search.controller import run_search

#: Segments far apart, a model pre-trained to fit the other segments, and a rate high enough that two
#: epochs on seg_0 lift its PR-AUC from about 0.36 to 0.50 while the reference segment's falls by ~0.2:
#: the fine-tuned trials win on the objective and forget; the model as is (trial 0) forgets nothing.
DATA = {"n_rows": 1600, "positive_rate": 0.1, "segment_shift": 2.0}


def _study(url: str, name: str, **changes: Any) -> dict[str, Any]:
    return {
        "name": name, "task": "binary", "storage": url, "seed": 0,
        "dataset": {"name": "synthetic_fraud", "options": {**DATA, "target_segment": "seg_0"}},
        "model": {"name": "tabular_mlp", "options": {"pretrain_epochs": 10, "hidden_sizes": [32, 32]}},
        "objective": {"metric": "pr_auc"}, "budget": {"n_trials": 3, "max_epochs": 2},
        "search_space": {"learning_rate": {"value": 0.01}, "epochs": {"value": 2}, "adaptation": {"value": "full"},
                         "imbalance": {"value": "none"}},
        "reference": {"name": "synthetic_fraud", "options": {**DATA, "target_segment": "seg_1"}},
        **changes,
    }  # fmt: skip


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, optuna.Study]]:
    """Two studies in one database: one bounded by ``max_drop``, one by a recall constraint."""
    folder = tmp_path_factory.mktemp("guard")
    url = f"sqlite:///{folder / 'study.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOSFT_CACHE_DIR", str(folder / "cache"))  # pre-trained once, for both studies
        guarded = _study(url, "max-drop")
        guarded["reference"]["max_drop"] = 0.05
        recall = _study(url, "recall", constraints=[{"metric": "recall", "min": 0.5}])
        studies = {
            config["name"]: run_search(parse_study(config, where="test"), final_test=False, check_data=False).study
            for config in (guarded, recall)
        }
    return url, studies


def _infeasible_winners(study: optuna.Study) -> tuple[optuna.trial.FrozenTrial, list[optuna.trial.FrozenTrial]]:
    """The selected trial, and the infeasible trials that beat it on the objective."""
    chosen = selected_trial(study)
    beaten_by = [trial for trial in study.trials if not is_feasible(trial) and trial.values[0] > chosen.values[0]]
    return chosen, beaten_by


@pytest.mark.slow  # pre-training and six short trials: about 20 s on an idle 2-core machine
def test_every_trial_stores_its_retained_performance(searched: tuple[str, dict[str, optuna.Study]]) -> None:
    for study in searched[1].values():
        baseline = study.user_attrs[REFERENCE_BASELINE_ATTR]
        assert baseline["meaningful"] is True and baseline["note"] == ""  # the head is pre-trained on fraud
        for trial in study.trials:
            extra = trial.user_attrs[EXTRA_METRICS_ATTR]
            before, after = baseline["pretrained"]["pr_auc"], extra["retained_pr_auc"]
            assert extra["reference_drop"] == pytest.approx(before - after, abs=2e-6)
            if trial.user_attrs.get(AS_IS_ATTR):
                assert extra["reference_drop"] == pytest.approx(0.0, abs=1e-9)  # the pre-trained model itself


@pytest.mark.slow
def test_a_trial_beyond_max_drop_is_infeasible_and_never_selected(
    searched: tuple[str, dict[str, optuna.Study]], tmp_path: Path
) -> None:
    url, studies = searched
    study = studies["max-drop"]
    chosen, beaten_by = _infeasible_winners(study)
    assert beaten_by, "no trial both forgot too much and won on the objective: the test shows nothing"
    for trial in beaten_by:
        drop = trial.user_attrs[EXTRA_METRICS_ATTR]["reference_drop"]
        assert drop > 0.05 and trial.constraints == {"reference_drop <= 0.05": pytest.approx(drop - 0.05)}
    assert is_feasible(chosen) and chosen.user_attrs.get(AS_IS_ATTR)

    exported = export_study(url, "max-drop", tmp_path / "export", resamples=20, manager=get_plugin_manager())
    assert exported.trial == chosen.number
    card = json.loads((tmp_path / "export" / RUN_CARD).read_text())["study"]
    assert card["infeasible_trials"] == len([t for t in study.trials if not is_feasible(t)])
    assert card["selected_extra_metrics"]["reference_drop"] == pytest.approx(0.0, abs=1e-9)

    app = build_app(get_plugin_manager())
    status = CliRunner().invoke(app, ["status", "--storage", url, "--study-name", "max-drop"], env={"COLUMNS": "250"})
    assert status.exit_code == 0, status.output
    assert "retained" in status.output and "COMPLETE (infeasible)" in status.output
    assert "infeasible: reference_drop <= 0.05 (missed by" in status.output
    best = CliRunner().invoke(app, ["best", "--storage", url, "--study-name", "max-drop", "--json"])
    record = json.loads(best.stdout)
    assert record["trial"] == chosen.number and record["feasible"] is True
    assert record["extra_metrics"]["reference_drop"] == pytest.approx(0.0, abs=1e-9)
    report = write_report(url, "max-drop", tmp_path / "report.html")
    assert "Trials: retained performance on the reference and constraints" in report.markdown
    assert f"| {beaten_by[0].number} |" in report.markdown and "no: reference_drop <= 0.05" in report.markdown


@pytest.mark.slow
def test_a_trial_that_misses_a_recall_bound_is_infeasible_and_never_selected(
    searched: tuple[str, dict[str, optuna.Study]],
) -> None:
    study = searched[1]["recall"]
    chosen, beaten_by = _infeasible_winners(study)
    assert beaten_by, "no trial both missed the recall bound and won on the objective: the test shows nothing"
    for trial in beaten_by:
        recall = trial.user_attrs["metrics"]["recall"]
        assert recall < 0.5 and trial.constraints == {"recall >= 0.5": pytest.approx(0.5 - recall)}
    assert is_feasible(chosen) and chosen.user_attrs["metrics"]["recall"] >= 0.5
