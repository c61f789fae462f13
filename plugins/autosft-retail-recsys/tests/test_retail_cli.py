"""The retail plugin through the real ``autosft`` console script: a small study searched and then
read beside its popularity and pre-trained baselines, and bad logs refused in one line.

Every test runs the installed console script in a subprocess with its study in a temporary SQLite
file; nothing is mocked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from retail_helpers import log_options, make_log

AUTOSFT = shutil.which("autosft")

pytestmark = pytest.mark.skipif(AUTOSFT is None, reason="the autosft console script is not installed")


def _autosft(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert AUTOSFT is not None
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AUTOSFT_CACHE_DIR": str(cwd / "cache"), "COLUMNS": "250"}
    return subprocess.run([AUTOSFT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def _study(tmp_path: Path, **dataset: Any) -> Path:
    study = {
        "name": "retail-cli",
        "task": "ranking",
        "dataset": {"name": "interactions", "options": log_options(tmp_path / "log.csv", **dataset)},
        "model": {"name": "next_item_transformer", "options": {"dim": 16, "pretrain_epochs": 1}},
        "objective": {"metric": "ndcg@10"},
        "budget": {"n_trials": 2, "max_epochs": 2},
        "storage": f"sqlite:///{tmp_path / 'study.db'}",
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


@pytest.mark.slow  # a search and three interpreter starts: about a minute and a half on 2 busy cores
def test_a_study_is_read_beside_its_baselines(tmp_path: Path) -> None:
    make_log().to_csv(tmp_path / "log.csv", index=False)
    study = _study(tmp_path)
    searched = _autosft("search", str(study), "--devices", "cpu", cwd=tmp_path)
    assert searched.returncode == 0, searched.stderr
    assert "held-out test: hit_rate@5=" in searched.stdout
    baselines = _autosft("retail-baselines", str(study), cwd=tmp_path)
    assert baselines.returncode == 0, baselines.stderr
    header = next(line for line in baselines.stdout.splitlines() if "popularity" in line)
    for column in ("popularity (val)", "pretrained_as_is (val)", "popularity (test)", "pretrained_as_is (test)",
                   "fine-tuned"):  # fmt: skip
        assert column in header
    ndcg = next(line for line in baselines.stdout.splitlines() if "ndcg@10" in line)
    assert len([cell for cell in ndcg.split() if cell.replace(".", "").isdigit()]) == 5


@pytest.mark.parametrize(
    ("edit", "dataset", "message"),
    [
        (lambda frame: frame, {"target_segments": ["DE"]}, "no user in column 'country'; segments (users): FR (20)"),
        (lambda frame: frame.assign(timestamp="soon"), {}, "values that are missing or not times (e.g. 'soon')"),
    ],
)
def test_bad_logs_are_refused_in_one_line(tmp_path: Path, edit: Any, dataset: dict[str, Any], message: str) -> None:
    edit(make_log()).to_csv(tmp_path / "log.csv", index=False)
    result = _autosft("validate", str(_study(tmp_path, **dataset)), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr
