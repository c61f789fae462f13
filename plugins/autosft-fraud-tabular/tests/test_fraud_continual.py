"""`autosft rank-unlabeled` on a real exported tabular model, and the month-by-month recipe end to end:
month 1 searched and exported, month 2's pool found drifted and ranked, the ranked rows labelled and
appended, month 2 warm-started from month 1. Bad input is one line with exit 2.

Every command runs through the real CLI app (with the installed plugins) on generated tables whose
labels are known; the studies live in a temporary SQLite file.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from autosft import WARM_START_ATTR, get_plugin_manager
from autosft.cli import build_app

POOL_ROWS = 120


def _month(rows: int, seed: int, first_id: int, shift: float = 0.0) -> pd.DataFrame:
    """Applicants of one month: a label that two numbers and a category decide, up to noise."""
    rng = np.random.default_rng(seed)
    amount = rng.normal(shift, 1.0, rows)
    age = rng.normal(0.0, 1.0, rows)
    channel = rng.choice(["web", "branch", "phone"], rows)
    score = amount - 0.5 * age + (channel == "web") + rng.normal(0.0, 0.5, rows)
    return pd.DataFrame({"id": np.arange(first_id, first_id + rows), "amount": amount, "age": age,
                         "channel": channel, "label": (score > 0.5).astype(int)})  # fmt: skip


def _study(folder: Path, name: str, data: str, **extra: Any) -> Path:
    study = {
        "name": name,
        "task": "binary",
        "dataset": {"name": "tabular", "options": {"path": data, "target": "label", "drop": ["id"]}},
        "model": {"name": "tabular_mlp", "options": {"hidden_sizes": [8]}},
        "objective": {"metric": "roc_auc"},
        "budget": {"n_trials": 2, "max_epochs": 2},
        "storage": f"sqlite:///{folder / 'studies.db'}",
        "seed": 0,
        **extra,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


def _cli(folder: Path, *args: str) -> Any:
    """``autosft ARGS`` in ``folder`` (the study files' data paths are relative to it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        return CliRunner().invoke(build_app(get_plugin_manager()), list(args))


@pytest.fixture(scope="module")
def month_one(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with month 1's data, its searched study and its export (``export/``), and month 2's pool."""
    folder = tmp_path_factory.mktemp("continual")
    _month(300, seed=1, first_id=0).to_csv(folder / "month1.csv", index=False)
    pool = _month(POOL_ROWS, seed=2, first_id=1000, shift=1.0)
    pool.to_csv(folder / "month2_truth.csv", index=False)  # the labels an annotator would give
    pool.drop(columns="label").to_csv(folder / "month2_pool.csv", index=False)
    study = _study(folder, "month-1", "month1.csv")
    searched = _cli(folder, "search", str(study), "--no-final-test", "--skip-data-check")
    assert searched.exit_code == 0, searched.output
    exported = _cli(folder, "export", "--study", str(study), "--out", "export", "--resamples", "10")
    assert exported.exit_code == 0, exported.output
    return folder


def _ranked(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("strategy", ["margin", "entropy", "diverse"])
def test_rank_unlabeled_writes_the_top_rows_with_their_ids_and_scores(month_one: Path, strategy: str) -> None:
    out = month_one / f"ranked-{strategy}.csv"
    result = _cli(month_one, "rank-unlabeled", "month-1.yaml", "--data", "month2_pool.csv", "--top", "15",
                  "--strategy", strategy, "--id-column", "id", "--out", out.name)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"15 of {POOL_ROWS} pool rows to label next by {strategy}" in result.output
    ranked = _ranked(out)
    assert [row["rank"] for row in ranked] == [str(rank) for rank in range(1, 16)]
    rows = [int(row["row"]) for row in ranked]
    assert len(set(rows)) == 15 and [int(row["id"]) for row in ranked] == [1000 + row for row in rows]
    scores = [float(row["score"]) for row in ranked]
    assert all(0.0 <= score <= 1.0 for score in scores)
    if strategy != "diverse":  # diverse orders by spread, not by doubt
        assert scores == sorted(scores, reverse=True)
    again = _cli(month_one, "rank-unlabeled", "month-1.yaml", "--data", "month2_pool.csv", "--top", "15",
                 "--strategy", strategy, "--id-column", "id", "--out", "again.csv")  # fmt: skip
    assert again.exit_code == 0 and _ranked(month_one / "again.csv") == ranked  # deterministic


def _error_line(result: Any) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "month2_pool.csv", "--top", "0"], "--top must be at least 1, but got 0"),
        (["--data", "month2_pool.csv", "--top", "5", "--strategy", "entrop"],
         "unknown strategy 'entrop' (did you mean 'entropy'?)"),
        (["--data", "month2_pool.csv", "--top", "5", "--model", "nowhere"], "'nowhere' does not exist"),
        (["--data", "month2_pool.csv", "--top", "5", "--model", "."], "is not an autosft export"),
        (["--data", "no_amount.csv", "--top", "5"], "amount"),
        (["--data", "empty.csv", "--top", "5"], "empty.csv"),
        (["--data", "month2_pool.csv", "--top", "5", "--id-column", "applicant"], "'applicant' is not a column"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_with_exit_2(month_one: Path, args: list[str], message: str) -> None:
    pool = pd.read_csv(month_one / "month2_pool.csv")
    pool.drop(columns="amount").to_csv(month_one / "no_amount.csv", index=False)
    pool.head(0).to_csv(month_one / "empty.csv", index=False)
    assert message in _error_line(_cli(month_one, "rank-unlabeled", "month-1.yaml", *args))


@pytest.mark.slow
def test_month_two_labels_the_ranked_rows_and_starts_from_month_one(month_one: Path) -> None:
    """The recipe of docs/continual.md: month 2's pool has drifted, so rank it, label the ranked rows,
    append them to the labelled data, and search month 2 warm-started from month 1."""
    drifted = _cli(month_one, "drift", "month-1.yaml", "--data", "month2_pool.csv", "--model", "export")
    assert drifted.exit_code == 1, drifted.output  # amounts moved up by one standard deviation
    assert drifted.output.startswith("drift: ") and "amount" in drifted.output
    ranked = _cli(month_one, "rank-unlabeled", "month-1.yaml", "--data", "month2_pool.csv", "--top", "40",
                  "--strategy", "diverse", "--id-column", "id", "--out", "to_label.csv")  # fmt: skip
    assert ranked.exit_code == 0, ranked.output
    ids = [int(row["id"]) for row in _ranked(month_one / "to_label.csv")]
    truth = pd.read_csv(month_one / "month2_truth.csv").set_index("id")
    labelled = truth.loc[ids].reset_index()  # the annotator's answers for exactly those rows
    month_two = pd.concat([pd.read_csv(month_one / "month1.csv"), labelled], ignore_index=True)
    month_two.to_csv(month_one / "month2.csv", index=False)

    study = _study(month_one, "month-2", "month2.csv", budget={"n_trials": 3, "max_epochs": 2})
    searched = _cli(month_one, "search", str(study), "--warm-start", "month-1", "--no-final-test",
                    "--skip-data-check")  # fmt: skip
    assert searched.exit_code == 0, searched.output
    url = f"sqlite:///{month_one / 'studies.db'}"
    trials = optuna.load_study(study_name="month-2", storage=url).trials
    warm = [trial.user_attrs.get(WARM_START_ATTR) for trial in trials]
    # The starting trial (the default) first, then month 1's best other configuration.
    assert warm[0] is None and warm[1] is not None and warm[1]["study"] == "month-1"
    month_one_params = {t.number: t.params for t in optuna.load_study(study_name="month-1", storage=url).trials}
    assert trials[1].params == month_one_params[warm[1]["trial"]]
