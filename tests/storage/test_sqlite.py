"""Two `autosft search` runs on one SQLite file at once: an exact budget, and no race creating it.

SQLite lets one process write at a time, but every write is short: two searches on one file take
turns. Under the study lock (an ``flock`` beside the file) their counting and asking never
interleave, and neither do their table creations on a fresh file.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
import yaml

from autosft.search.budget import TARGET_ATTR
from autosft.storage import open_storage
from autosft.storage.lock import StudyLock
from autosft.storage.stale import is_lost
from autosft.testing import toy_study
from tests.conftest import TOY_CLI

#: Holds the study lock of sys.argv[1], says so, and touches sys.argv[2] just before letting go.
HOLDER = """
import sys, time
from pathlib import Path
from autosft.storage.lock import StudyLock
with StudyLock(sys.argv[1], "toy").held():
    print("held", flush=True)
    time.sleep(2)
    Path(sys.argv[2]).touch()
"""
TINY = {"dataset": {"name": "toy_blobs", "options": {"rows": 200}}, "budget": {"n_trials": 1, "max_epochs": 1}}


def _searches(study_file: Path, *args: str, count: int = 2) -> list[subprocess.CompletedProcess[str]]:
    """Run ``count`` searches of ``study_file`` at once and wait for all of them."""
    command = [sys.executable, "-c", TOY_CLI, "search", str(study_file), "--no-final-test", "--skip-data-check", *args]
    running = [subprocess.Popen(command, cwd=study_file.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(count)]  # fmt: skip
    outputs = [process.communicate(timeout=900) for process in running]
    return [subprocess.CompletedProcess(p.args, p.returncode, *out) for p, out in zip(running, outputs, strict=True)]


def _study_file(folder: Path) -> Path:
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(toy_study(f"sqlite:///{folder / 'study.db'}", **TINY)))
    return path


def test_two_searches_on_one_sqlite_file_keep_the_budget_exact(tmp_path: Path) -> None:
    study_file = _study_file(tmp_path)
    first = _searches(study_file, count=1)[0]
    assert first.returncode == 0, first.stderr
    for done in _searches(study_file, "--n-trials", "20"):
        assert done.returncode == 0, done.stderr[-2000:]
    study = optuna.load_study(study_name="toy", storage=f"sqlite:///{tmp_path / 'study.db'}")
    spent = [trial for trial in study.trials if not is_lost(trial)]
    assert len(spent) == study.user_attrs[TARGET_ATTR]  # the later run's target: 1 + 20 + what the other had run
    assert all(trial.state.is_finished() for trial in study.trials)


def test_two_searches_on_a_fresh_sqlite_file_both_start(tmp_path: Path) -> None:
    study_file = _study_file(tmp_path)
    for done in _searches(study_file, "--n-trials", "2", count=3):
        assert done.returncode == 0, done.stderr[-2000:]
    study = optuna.load_study(study_name="toy", storage=f"sqlite:///{tmp_path / 'study.db'}")
    assert len(study.trials) == study.user_attrs[TARGET_ATTR]


def _take_lock(url: str) -> None:
    with StudyLock(url, "toy").held():
        pass


@pytest.mark.parametrize("wait", [_take_lock, open_storage], ids=["study-lock", "table-creation"])
def test_a_sqlite_file_is_locked_across_processes(tmp_path: Path, wait: Callable[[str], object]) -> None:
    """While another process holds the lock, asking for a trial and creating a fresh file's tables wait."""
    url, released = f"sqlite:///{tmp_path / 'study.db'}", tmp_path / "released"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url, str(released)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        wait(url)
        assert released.exists()  # it waited for the other process to let go, however long that took
    finally:
        holder.wait(timeout=60)
