"""A worker killed inside ``study.ask()``, before its trial's first heartbeat, loses nothing and
hangs nothing: the trial is found stale after the grace period, failed with its reason, queued
again, and the next worker ends by itself with exactly the budget finished. Real processes, real
SIGKILLs, on every storage that serves parallel workers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import yaml

from autosft.storage import open_storage
from autosft.storage.stale import LOST_ATTR, STALE_REASON
from autosft.testing import toy_study
from tests.conftest import run_toy_cli
from tests.storage.pausing_worker import PAUSES_ENV

PAUSING_WORKER = Path(__file__).with_name("pausing_worker.py")
N_TRIALS = 3
#: Short enough for a quick test; nothing here waits for it with a margin, workers poll past it.
HEARTBEAT = {"interval": 1, "grace_period": 3, "max_retries": 3}


@pytest.fixture
def prepared(storage_url: str, study_name: str, tmp_path: Path) -> Iterator[str]:
    """A study waiting for its workers (``--workers 0``) on a storage that serves several; removed after."""
    if storage_url.startswith("sqlite"):
        pytest.skip("parallel workers need a database server")
    yield _prepare(storage_url, study_name, tmp_path)
    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=study_name, storage=open_storage(storage_url))


@pytest.fixture
def prepared_rdb_or_journal(storage_url: str, study_name: str, tmp_path: Path) -> Iterator[str]:
    """As ``prepared``, on PostgreSQL and the journal file only: they stand for the RDB and journal storages."""
    if not storage_url.startswith(("postgresql", "journal")):
        pytest.skip("PostgreSQL and the journal file stand for the RDB and journal storages")
    yield _prepare(storage_url, study_name, tmp_path)
    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=study_name, storage=open_storage(storage_url))


def _prepare(url: str, name: str, folder: Path) -> str:
    study = toy_study(url, name=name, heartbeat=HEARTBEAT, budget={"n_trials": N_TRIALS, "max_epochs": 2})
    study_file = folder / "study.yaml"
    study_file.write_text(yaml.safe_dump(study))
    made = run_toy_cli("search", str(study_file), "--workers", "0", cwd=folder)
    assert made.returncode == 0, made.stderr
    return url


def _kill_inside_ask(url: str, name: str, pauses: Path) -> None:
    """Start a worker, wait until it has created a trial and not beaten yet, and SIGKILL it."""
    worker = subprocess.Popen([sys.executable, str(PAUSING_WORKER), "worker", "--storage", url, "--study-name", name,
                               "--quiet"], env={**os.environ, PAUSES_ENV: str(pauses)}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not list(pauses.glob(f"{worker.pid}-*")):
            if time.monotonic() > deadline or worker.poll() is not None:
                worker.kill()
                pytest.fail(f"the worker never created a trial: {worker.communicate()[1][-2000:]}")
            time.sleep(0.1)
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=60)
    finally:
        worker.kill()


def _finish_and_check(url: str, name: str, kills: int) -> None:
    """A plain worker ends by itself; the study holds exactly its budget finished and nothing running."""
    final = run_toy_cli("worker", "--storage", url, "--study-name", name, "--quiet", timeout=600)
    assert final.returncode == 0, final.stderr[-2000:]
    trials = optuna.load_study(study_name=name, storage=open_storage(url)).trials
    states = [trial.state for trial in trials]
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    assert sum(state in finished for state in states) == N_TRIALS
    assert optuna.trial.TrialState.RUNNING not in states and optuna.trial.TrialState.WAITING not in states
    killed = [trial for trial in trials if trial.state == optuna.trial.TrialState.FAIL]
    assert len(killed) == kills
    assert all(t.user_attrs["fail_reason"] == STALE_REASON and t.user_attrs[LOST_ATTR] == "stale" for t in killed)
    assert [trial for trial in trials if trial.system_attrs.get("failed_trial") == killed[0].number]  # queued again
    marked = [trial for trial in trials if {LOST_ATTR, "fail_reason"} & set(trial.user_attrs)]
    assert not [trial for trial in marked if trial.state in finished]  # a retry carries no mark of its loss


def test_a_worker_killed_inside_ask_leaves_no_trial_running(prepared: str, study_name: str, tmp_path: Path) -> None:
    _kill_inside_ask(prepared, study_name, tmp_path)
    _finish_and_check(prepared, study_name, kills=1)


@pytest.mark.slow
def test_twenty_kills_inside_ask_lose_nothing(prepared_rdb_or_journal: str, study_name: str, tmp_path: Path) -> None:
    for _ in range(20):
        _kill_inside_ask(prepared_rdb_or_journal, study_name, tmp_path)
    _finish_and_check(prepared_rdb_or_journal, study_name, kills=20)
