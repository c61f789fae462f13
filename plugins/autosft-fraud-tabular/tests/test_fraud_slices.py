"""Slices on a generated table through the real command line: a slice column whose labels are noisy in
one slice (``east``) makes that slice the worst, with its interval and its gap to the overall score, the
same in the search output, ``best --json``, the run card and the report; a slice too small to score is
listed as such; ``aggregate: worst_slice`` makes the trial's value its worst slice; and a slice column
that is unknown, also a feature, or asked of a loader that cannot keep one is one line, exit 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

#: The slice whose labels are flipped at random for 45 % of its rows, and one with too few rows.
HARD, TINY = "east", "island"


def _table(path: Path, rows: int = 900) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 3))
    region = rng.choice(["north", "south", HARD], rows, p=[0.4, 0.4, 0.2]).astype(object)
    region[rng.random(rows) < 0.02] = TINY
    label = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.3, size=rows) > 0).astype(int)
    noisy = (region == HARD) & (rng.random(rows) < 0.45)
    label = np.where(noisy, 1 - label, label)
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "region": region, "label": label}).to_csv(path, index=False)
    return path


def _study(folder: Path, *, options: dict[str, Any] | None = None, **changes: Any) -> Path:
    study = {
        "name": "sliced",
        "task": "binary",
        "dataset": {"name": "tabular", "options": {"path": str(_table(folder / "data.csv")), "target": "label",
                                                   **(options or {})}},
        "model": {"name": "tabular_mlp", "options": {"hidden_sizes": [16]}},
        "objective": {"metric": "roc_auc"},
        "budget": {"n_trials": 1, "max_epochs": 2},
        "slices": {"columns": ["region"], "min_rows": 30, "n_boot": 50},
        "storage": f"sqlite:///{folder / 'study.db'}",
        **changes,
    }  # fmt: skip
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


def _autosft(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AUTOSFT_CACHE_DIR": str(cwd / "cache"), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "autosft", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, check=False)  # fmt: skip


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    """The command's output, its line breaks and runs of spaces as one space (Rich wraps long lines)."""
    assert result.returncode == 0, (result.stdout, result.stderr)
    return " ".join(result.stdout.split())


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("slices")
    return folder, _ok(_autosft("search", str(_study(folder)), cwd=folder))


@pytest.mark.slow  # search, best, export and report in subprocesses: about a minute on an idle machine
def test_the_noisy_slice_is_the_worst_with_its_interval_and_gap_everywhere(searched: tuple[Path, str]) -> None:
    folder, output = searched
    storage = f"sqlite:///{folder / 'study.db'}"
    best = json.loads(_ok(_autosft("best", "--storage", storage, "--study-name", "sliced", "--json", cwd=folder)))
    record = best["slices"]
    assert "slices" not in best["final_test"]  # shown once
    for split in ("validation", "test"):
        found = record["splits"][split]
        worst = found["worst"]["roc_auc"]
        assert (worst["column"], worst["slice"]) == ("region", HARD)
        assert worst["low"] < worst["value"] < worst["high"]
        assert worst["gap"] == pytest.approx(worst["value"] - found["overall"]["roc_auc"]["value"], abs=1e-5)
        assert worst["gap"] < -0.1  # the noisy slice is far below the rest
        assert [row["slice"] for row in found["columns"]["region"]["too_small"]] == [TINY]
        assert TINY not in [row["slice"] for row in found["columns"]["region"]["slices"]]
    test_worst = record["splits"]["test"]["worst"]["roc_auc"]
    line = (f"worst slice on test: region={HARD} ({test_worst['rows']} rows) roc_auc {test_worst['value']:.4f} "
            f"[{test_worst['low']:.4f}, {test_worst['high']:.4f}], gap {test_worst['gap']:+.4f}")  # fmt: skip
    assert line in output
    # every trial stores its validation worst slice where constraints read it
    study = optuna.load_study(study_name="sliced", storage=storage)
    for trial in study.trials:
        assert trial.user_attrs["autosft_extra_metrics"]["worst_slice_roc_auc"] < trial.values[0]

    export = folder / "export"
    printed = _ok(_autosft("export", "--storage", storage, "--study-name", "sliced", "--out", str(export),
                           "--resamples", "50", cwd=folder))  # fmt: skip
    card = json.loads((export / "run_card.json").read_text())["slices"]
    assert card["trial"] == record["trial"]
    carded = card["splits"]["test"]["worst"]["roc_auc"]
    # the export retrains the same plan with the same seed: the same model, the same slice scores
    assert (carded["slice"], carded["value"], carded["low"], carded["high"], carded["gap"]) == (
        HARD, test_worst["value"], test_worst["low"], test_worst["high"], test_worst["gap"])  # fmt: skip
    assert line in printed

    page = folder / "report.html"
    markdown = _ok(_autosft("report", "--storage", storage, "--study-name", "sliced", "--out", str(page),
                            "--export", str(export), cwd=folder))  # fmt: skip
    assert line in markdown and f"region={TINY}" in markdown
    html = page.read_text()
    assert "roc_auc per slice (95 % bootstrap CI)" in html and line in html


def test_a_worst_slice_objective_is_the_worst_slices_validation_score(tmp_path: Path) -> None:
    study_file = _study(tmp_path, objective={"metric": "roc_auc", "aggregate": "worst_slice"},
                        slices={"columns": ["region"], "metrics": ["recall"], "n_boot": 20})  # fmt: skip
    _ok(_autosft("search", str(study_file), "--no-final-test", cwd=tmp_path))
    [trial] = optuna.load_study(study_name="sliced", storage=f"sqlite:///{tmp_path / 'study.db'}").trials
    extra = trial.user_attrs["autosft_extra_metrics"]
    assert set(extra) == {"worst_slice_roc_auc", "worst_slice_recall"}
    assert trial.values[0] == pytest.approx(extra["worst_slice_roc_auc"], abs=1e-6)
    assert trial.values[0] < trial.user_attrs["metrics"]["roc_auc"]


#: Each refused in `validate`; the two the issue names also in `search`, which then runs no trial.
BAD_SLICES = [
    ({"slices": {"columns": ["regoin"]}}, ["slice column 'regoin' is not in", "available columns"], True),
    ({"options": {"categorical": ["region"]}}, ["slice column 'region' is also a feature", "categorical"], True),
    ({"options": {"target": "region"}}, ["slice column 'region' is also the target column"], False),
    ({"dataset": {"name": "synthetic_fraud"}}, ["dataset 'synthetic_fraud' cannot keep slice columns"], False),
    ({"objective": {"metric": "roc_auc", "aggregate": "worst_slice"}, "slices": None}, ["needs `slices"], False),
]


@pytest.mark.parametrize(("changes", "words", "search"), BAD_SLICES,
                         ids=["unknown", "feature", "target", "loader", "no-slices"])  # fmt: skip
def test_bad_slices_are_one_line_exit_2(
    tmp_path: Path, changes: dict[str, Any], words: list[str], search: bool
) -> None:
    study_file = _study(tmp_path, **changes)
    for command in ("validate", "search") if search else ("validate",):
        line = _one_error_line(_autosft(command, str(study_file), cwd=tmp_path))
        for word in words:
            assert word in line, line
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    if (tmp_path / "study.db").exists():
        assert not any(optuna.load_study(study_name=name, storage=storage).trials
                       for name in optuna.get_all_study_names(storage))  # fmt: skip


def test_a_worst_slice_constraint_makes_trials_below_it_infeasible_and_never_selected(tmp_path: Path) -> None:
    from autosft import get_plugin_manager
    from autosft.config import load_study_file
    from autosft.evaluate.constraints import extra_metrics, is_feasible
    from autosft.evaluate.holdout import has_selectable_trial
    from autosft.search.controller import run_search

    # The noisy slice scores far below 0.99 whatever the configuration: every trial misses the bound.
    path = _study(tmp_path, budget={"n_trials": 2, "max_epochs": 2},
                  constraints=[{"metric": "worst_slice_roc_auc", "min": 0.99}])  # fmt: skip
    outcome = run_search(load_study_file(path), manager=get_plugin_manager())
    trials = outcome.study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) == 2
    for trial in trials:
        worst = extra_metrics(trial)["worst_slice_roc_auc"]
        assert worst is not None and worst < 0.99
        assert list(trial.constraints.values()) == [pytest.approx(0.99 - worst)]
        assert not is_feasible(trial)
    assert not has_selectable_trial(outcome.study) and outcome.final_test is None
    line = _one_error_line(_autosft("best", "--study", str(path), cwd=tmp_path))
    assert "feasible" in line
