"""The fraud plugin through the real ``autosft`` console script, as a user meets it: the quickstart
acceptance run (search, resume, status, best), bad data files refused in one line with exit 2, an
unknown imbalance strategy, and a German credit smoke run on the shared data.

Every test runs the installed console script in a subprocess and keeps its study in a temporary
SQLite file; nothing is mocked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
GERMAN_CREDIT = REPO / ".." / "shared" / "data" / "finance" / "german_credit" / "german_credit.csv"
AUTOSFT = shutil.which("autosft")

pytestmark = pytest.mark.skipif(AUTOSFT is None, reason="the autosft console script is not installed")


def _autosft(*args: str, cwd: Path, cache: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    assert AUTOSFT is not None
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AUTOSFT_CACHE_DIR": str(cache), "COLUMNS": "200"}
    return subprocess.run(
        [AUTOSFT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a refused command, checked for the CLI's error contract."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:"), lines[0]
    return lines[0]


def _trial_count(db: Path) -> int:
    """Trials over every study in a SQLite file; 0 when the file was never created."""
    if not db.exists():
        return 0
    url = f"sqlite:///{db}"
    return sum(len(optuna.load_study(study_name=name, storage=url).trials) for name in optuna.get_all_study_names(url))


# --- 1. quickstart acceptance ----------------------------------------------------------------------

LORA_CHILDREN = {"lora_rank", "lora_alpha", "lora_dropout", "lora_targets", "lora_learning_rate"}
FREEZE_CHILDREN = {"freeze_depth", "unfreeze_every"}


def test_quickstart_search_resume_status_best(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'q.db'}"
    cache = tmp_path / "cache"
    study_file = str(REPO / "studies" / "quickstart.yaml")

    first = _autosft("search", study_file, "--storage", storage, "--n-trials", "10", cwd=tmp_path, cache=cache)
    assert first.returncode == 0, first.stderr
    assert "best trial" in first.stdout and "held-out test" in first.stdout
    resumed = _autosft("search", study_file, "--storage", storage, "--n-trials", "2", cwd=tmp_path, cache=cache)
    assert resumed.returncode == 0, resumed.stderr
    assert "best trial" in resumed.stdout and "held-out test" in resumed.stdout

    assert optuna.get_all_study_names(storage) == ["quickstart"]
    trials = optuna.load_study(study_name="quickstart", storage=storage).trials
    assert [t.number for t in trials] == list(range(12))
    # The MLP is pre-trained on the same label: the model as is comes first (zero epochs), then the default.
    assert trials[0].user_attrs.get("autosft_as_is") is True and trials[0].user_attrs["plan"]["epochs"] == 0
    assert trials[1].user_attrs.get("autosft_default_configuration") is True
    assert trials[1].params["adaptation"] == "full"
    assert "the chosen model vs the references" in first.stdout
    states = {t.state for t in trials}
    assert optuna.trial.TrialState.PRUNED in states and optuna.trial.TrialState.COMPLETE in states

    complete_params = set().union(*(t.params for t in trials if t.state == optuna.trial.TrialState.COMPLETE))
    assert complete_params & {"learning_rate", "lora_learning_rate"}
    assert {"batch_size", "epochs", "adaptation", "weight_decay", "imbalance"} <= complete_params

    # Conditional dimensions exist exactly when their parent value selects them, in every trial.
    for trial in trials:
        params, adaptation = set(trial.params), trial.params["adaptation"]
        assert adaptation in {"full", "freeze", "lora"}
        assert (params >= FREEZE_CHILDREN) == (adaptation == "freeze"), (trial.number, trial.params)
        assert not (FREEZE_CHILDREN & params) or adaptation == "freeze", (trial.number, trial.params)
        assert (params >= LORA_CHILDREN) == (adaptation == "lora"), (trial.number, trial.params)
        assert not (LORA_CHILDREN & params) or adaptation == "lora", (trial.number, trial.params)
        assert ("learning_rate" in params) == (adaptation != "lora"), (trial.number, trial.params)
        assert ("augmentation_strength" in params) == (trial.params["augmentation"] != "none"), trial.params
    adaptations = {t.params["adaptation"] for t in trials}
    assert {"freeze", "lora"} <= adaptations, adaptations

    status = _autosft("status", "--storage", storage, "--study-name", "quickstart", cwd=tmp_path, cache=cache)
    assert status.returncode == 0, status.stderr
    assert "COMPLETE" in status.stdout and "PRUNED" in status.stdout
    best = _autosft("best", "--storage", storage, "--study-name", "quickstart", "--json", cwd=tmp_path, cache=cache)
    assert best.returncode == 0, best.stderr
    record = json.loads(best.stdout)
    assert record["study"] == "quickstart"
    assert 0.5 < record["final_test"]["test_metrics"]["roc_auc"] <= 1.0


# --- 2. bad data through the CLI -------------------------------------------------------------------


def _table(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    label = (rng.random(rows) < 0.3).astype(int)
    return pd.DataFrame({"x": rng.normal(size=rows), "y": rng.normal(size=rows), "label": label})


def _missing(folder: Path) -> Path:
    return folder / "data.csv"


def _empty(folder: Path) -> Path:
    path = folder / "data.csv"
    path.write_bytes(b"")
    return path


def _header_only(folder: Path) -> Path:
    path = folder / "data.csv"
    _table().head(0).to_csv(path, index=False)
    return path


def _one_class(folder: Path) -> Path:
    path = folder / "data.csv"
    _table().assign(label=0).to_csv(path, index=False)
    return path


def _nan_labels(folder: Path) -> Path:
    path = folder / "data.csv"
    table = _table().astype({"label": float})
    table.loc[[3, 10, 50], "label"] = np.nan
    table.to_csv(path, index=False)
    return path


def _no_target(folder: Path) -> Path:
    path = folder / "data.csv"
    _table().drop(columns="label").to_csv(path, index=False)
    return path


def _infinite(folder: Path) -> Path:
    path = folder / "data.csv"
    _table().assign(x=lambda t: t["x"].where(t.index != 7, np.inf)).to_csv(path, index=False)
    return path


def _txt_suffix(folder: Path) -> Path:
    path = folder / "data.txt"
    _table().to_csv(path, index=False)
    return path


BAD_DATA: list[tuple[Callable[[Path], Path], list[str]]] = [
    (_missing, ["data.csv", "does not exist"]),
    (_empty, ["data.csv", "is empty"]),
    (_header_only, ["data.csv", "has no rows"]),
    (_one_class, ["target column 'label'", "only one class"]),
    (_nan_labels, ["target column 'label'", "no label in 3 rows"]),
    (_no_target, ["target column 'label' is not in", "available columns: x, y"]),
    (_txt_suffix, ["data.txt", "unsupported suffix '.txt'", ".csv", ".parquet"]),
    (_infinite, ["numeric column 'x'", "1 infinite value(s) (first at row 7)"]),
]


def _write_study(folder: Path, data: Path, **overrides: object) -> Path:
    study = {
        "name": "bad-data",
        "task": "binary",
        "dataset": {"name": "tabular", "options": {"path": str(data), "target": "label"}},
        "model": {"name": "tabular_mlp"},
        "objective": {"metric": "roc_auc"},
        "budget": {"n_trials": 1, "max_epochs": 1},
        "storage": f"sqlite:///{folder / 'q.db'}",
        **overrides,
    }
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


@pytest.mark.parametrize(("make_data", "words"), BAD_DATA, ids=[make.__name__.strip("_") for make, _ in BAD_DATA])
def test_bad_data_is_one_line_exit_2_and_no_trials(
    tmp_path: Path, make_data: Callable[[Path], Path], words: list[str]
) -> None:
    db = tmp_path / "q.db"
    study = _write_study(tmp_path, make_data(tmp_path))
    result = _autosft("search", str(study), "--storage", f"sqlite:///{db}", cwd=tmp_path, cache=tmp_path / "cache")
    line = _one_error_line(result)
    for word in words:
        assert word in line, line
    assert _trial_count(db) == 0


def test_an_infinite_value_is_one_line_in_validate_and_check_data(tmp_path: Path) -> None:
    study = _write_study(tmp_path, _infinite(tmp_path))
    for command in ("validate", "check-data"):
        line = _one_error_line(_autosft(command, str(study), cwd=tmp_path, cache=tmp_path / "cache"))
        assert "1 infinite value(s)" in line


def test_validate_reports_nan_labels_like_search(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    study = _write_study(tmp_path, _nan_labels(tmp_path))
    cache = tmp_path / "cache"
    searched = _one_error_line(
        _autosft("search", str(study), "--storage", f"sqlite:///{db}", cwd=tmp_path, cache=cache)
    )
    validated = _one_error_line(_autosft("validate", str(study), cwd=tmp_path, cache=cache))
    assert validated == searched
    assert "no label in 3 rows" in validated
    assert _trial_count(db) == 0


# --- 3. unknown strategy name ----------------------------------------------------------------------

VALID_STRATEGIES = ["none", "class_weights", "focal", "oversample", "random_over", "smote", "adasyn", "smote_tomek"]


def _smoot_study(folder: Path) -> Path:
    data = folder / "data.csv"
    _table().to_csv(data, index=False)
    return _write_study(folder, data, search_space={"imbalance": {"choices": ["smote", "smoot"]}})


def test_unknown_imbalance_strategy_names_it_and_lists_choices(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    study = _smoot_study(tmp_path)
    result = _autosft("search", str(study), "--storage", f"sqlite:///{db}", cwd=tmp_path, cache=tmp_path / "cache")
    line = _one_error_line(result)
    assert "smoot" in line and "imbalance" in line and "valid choices" in line, line
    for name in VALID_STRATEGIES:
        assert name in line, (name, line)
    assert _trial_count(db) == 0


def test_validate_refuses_unknown_imbalance_strategy(tmp_path: Path) -> None:
    result = _autosft("validate", str(_smoot_study(tmp_path)), cwd=tmp_path, cache=tmp_path / "cache")
    line = _one_error_line(result)
    assert "smoot" in line and "valid choices" in line, line


# --- 4. German credit smoke ------------------------------------------------------------------------


def test_german_credit_smoke(tmp_path: Path) -> None:
    if not GERMAN_CREDIT.is_file():
        pytest.skip(f"{GERMAN_CREDIT} is absent (a fresh clone without ../shared); it is present in CI")
    storage = f"sqlite:///{tmp_path / 'q.db'}"
    cache = tmp_path / "cache"
    searched = _autosft(
        "search", "studies/german-credit.yaml", "--storage", storage, "--n-trials", "4", cwd=REPO, cache=cache
    )
    assert searched.returncode == 0, searched.stderr
    assert "held-out test" in searched.stdout
    best = _autosft("best", "--storage", storage, "--study-name", "german-credit", "--json", cwd=REPO, cache=cache)
    assert best.returncode == 0, best.stderr
    assert json.loads(best.stdout)["final_test"]["test_metrics"]["roc_auc"] > 0.6
