"""Parallel workers on a shared study (PostgreSQL, MySQL, a journal file, Redis): an exact budget,
and a killed worker that loses nothing. Workers are real processes (`autosft worker`), killed with a real SIGKILL."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import psutil
import pytest
import yaml

from autosft.config import parse_study
from autosft.errors import ConfigError
from autosft.search.controller import run_search
from autosft.search.dispatch import THREADS_ENV, plan_slots
from autosft.storage import open_storage
from autosft.testing import toy_manager, toy_study
from tests.conftest import backend_url

AUTOSFT = shutil.which("autosft")
ENV = {**os.environ, "AUTOSFT_PLUGINS": "autosft.testing:ToyPlugin", "HF_HUB_OFFLINE": "1"}
LONG_TRIALS = {"batch_size": {"value": 16}, "epochs": {"value": 20}, "patience": {"value": 20}}


def test_slots_split_the_cpu_and_pin_each_gpu() -> None:
    cpu = plan_slots("cpu", 2, cpu_count=4)
    assert [slot.device for slot in cpu] == ["cpu", "cpu"]
    assert all(slot.env[THREADS_ENV] == "2" and slot.env["CUDA_VISIBLE_DEVICES"] == "" for slot in cpu)
    gpus = plan_slots("cuda:0,cuda:3", None)
    assert [slot.env["CUDA_VISIBLE_DEVICES"] for slot in gpus] == ["0", "3"]
    assert {slot.device for slot in gpus} == {"cuda:0"}  # each worker sees only its own GPU
    assert len(plan_slots("cuda:0,cuda:1", 4)) == 4
    with pytest.raises(ConfigError, match="--devices takes auto, cpu or cuda:N"):
        plan_slots("gpu0", None)
    assert plan_slots("cpu", 0) == []  # the study waits for workers started elsewhere
    assert [slot.recycle_after for slot in (*cpu, *gpus)] == [None, None, 1, 1]  # GPU workers: one trial each
    assert [slot.recycle_after for slot in plan_slots("cuda:0,cpu", 2, recycle_after=0)] == [None, None]
    with pytest.raises(ConfigError, match="--recycle-after must be 0"):
        plan_slots("cpu", 1, recycle_after=-2)
    with pytest.raises(ConfigError, match="--workers must be 0 or more"):
        plan_slots("cpu", -1)


def test_parallel_workers_on_sqlite_are_refused(sqlite_url: str) -> None:
    config = parse_study(toy_study(sqlite_url), where="t")
    with pytest.raises(ConfigError, match="parallel workers need a database server"):
        run_search(config, manager=toy_manager(), workers=2)
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


#: Worker processes on every backend take 20-47 s a test: MySQL and Redis run with ``-m slow`` (the
#: killed-worker fault tests of tests/storage/test_stale.py keep all four in the default suite).
@pytest.fixture(params=["sqlite", "journal", "postgresql", pytest.param("mysql", marks=pytest.mark.slow),
                        pytest.param("redis", marks=pytest.mark.slow)])  # fmt: skip
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from backend_url(request.param, tmp_path)


@pytest.fixture
def server_url(storage_url: str, study_name: str):
    if storage_url.startswith("sqlite"):
        pytest.skip("parallel workers need a database server")
    yield storage_url
    with contextlib.suppress(KeyError):  # a test that failed early may not have created it
        optuna.delete_study(study_name=study_name, storage=open_storage(storage_url))


def _study_file(folder: Path, url: str, name: str, **overrides) -> Path:
    study = toy_study(url, name=name, heartbeat={"interval": 1, "grace_period": 4, "max_retries": 2}, **overrides)
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


def _finished(trials: list[optuna.trial.FrozenTrial]) -> int:
    return sum(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for t in trials)


def test_two_workers_honour_the_budget_exactly(server_url: str, study_name: str, tmp_path: Path) -> None:
    study_file = _study_file(tmp_path, server_url, study_name, budget={"n_trials": 7, "max_epochs": 3})
    # Workers recycled after 3 trials each, as GPU workers are after every trial.
    searched = subprocess.run([AUTOSFT, "search", str(study_file), "--workers", "2", "--recycle-after", "3"], env=ENV,
                              cwd=tmp_path, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert searched.returncode == 0, searched.stderr
    trials = _load(server_url, study_name).trials
    assert len(trials) == 7 and _finished(trials) == 7
    processes = {t.user_attrs["worker"] for t in trials}
    assert len(processes) >= 3  # 7 trials, at most 3 per process
    assert all(sum(t.user_attrs["worker"] == p for t in trials) <= 3 for p in processes)


def _load(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(url))


def _training_trials(url: str, name: str) -> set[int]:
    """Ids of the RUNNING trials that are training: their plan (all parameters) is stored."""
    try:
        running = _load(url, name).get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    except KeyError:  # the study is not created yet
        return set()
    return {trial._trial_id for trial in running if "plan" in trial.user_attrs}


def test_a_killed_worker_is_replaced_and_nothing_is_lost(server_url: str, study_name: str, tmp_path: Path) -> None:
    n_trials = 4
    budget = {"n_trials": n_trials, "max_epochs": 30}
    dataset = {"name": "toy_blobs", "options": {"rows": 800}}
    study_file = _study_file(tmp_path, server_url, study_name, budget=budget, dataset=dataset, search_space=LONG_TRIALS)
    search = subprocess.Popen([AUTOSFT, "search", str(study_file), "--workers", "2", "--no-final-test"], env=ENV,
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    replacement = None
    try:
        deadline = time.monotonic() + 180
        while len(_training_trials(server_url, study_name)) < 2:
            assert time.monotonic() < deadline and search.poll() is None, "two trials never ran at once"
            time.sleep(0.3)
        victim = psutil.Process(search.pid).children()[0]
        victim.send_signal(signal.SIGKILL)
        replacement = subprocess.Popen([AUTOSFT, "worker", "--storage", server_url, "--study-name", study_name],
                                       env=ENV, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       text=True)  # fmt: skip
        search.communicate(timeout=300)
        replacement.communicate(timeout=300)
    finally:
        for process in (search, replacement):
            if process is not None and process.poll() is None:
                process.kill()
    assert replacement.returncode == 0
    trials = _load(server_url, study_name).trials
    assert _finished(trials) == n_trials
    assert not [t for t in trials if t.state in (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING)]
    killed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    assert len(killed) == 1, [(t.number, t.user_attrs.get("fail_reason"), t.system_attrs) for t in killed]
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed[0].number]
    assert len(retried) == 1 and retried[0].params == killed[0].params and retried[0].state.is_finished()


def test_a_cluster_study_is_prepared_then_worked_by_joining_workers(
    server_url: str, study_name: str, tmp_path: Path
) -> None:
    study_file = _study_file(tmp_path, server_url, study_name, budget={"n_trials": 5, "max_epochs": 3})
    prepared = subprocess.run([AUTOSFT, "search", str(study_file), "--workers", "0"], env=ENV, cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
    assert prepared.returncode == 0, prepared.stderr
    assert f"autosft worker --storage '{server_url}' --study-name {study_name}" in prepared.stdout
    assert [t.state.name for t in _load(server_url, study_name).trials] == ["WAITING"]
    joined = [
        subprocess.Popen(
            [AUTOSFT, "worker", "--storage", server_url, "--study-name", study_name],
            env=ENV,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=300) for worker in joined]
    assert [worker.returncode for worker in joined] == [0, 0], outputs
    trials = _load(server_url, study_name).trials
    assert len(trials) == 5 and _finished(trials) == 5
    assert trials[0].user_attrs["autosft_default_configuration"] is True


@pytest.mark.slow
def test_twenty_kill_cycles_lose_nothing(server_url: str, study_name: str, tmp_path: Path) -> None:
    """Kill a worker mid-trial 20 times in a row; a last worker then finishes the exact budget."""
    n_trials = 6
    budget = {"n_trials": n_trials, "max_epochs": 20}
    dataset = {"name": "toy_blobs", "options": {"rows": 800}}
    study_file = _study_file(tmp_path, server_url, study_name, budget=budget, dataset=dataset, search_space=LONG_TRIALS)
    prepared = subprocess.run([AUTOSFT, "search", str(study_file), "--workers", "0"], env=ENV, cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
    assert prepared.returncode == 0, prepared.stderr
    worker_command = [AUTOSFT, "worker", "--storage", server_url, "--study-name", study_name, "--quiet"]
    killed: set[int] = set()
    for cycle in range(20):
        worker = subprocess.Popen(worker_command, env=ENV, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 120
        while not (fresh := _training_trials(server_url, study_name) - killed):
            assert time.monotonic() < deadline and worker.poll() is None, f"cycle {cycle}: no trial trained"
            time.sleep(0.2)
        killed |= fresh
        worker.kill()
        worker.wait(timeout=30)
        time.sleep(4.5)  # past the grace period, so the next worker finds the trial stale
    final = subprocess.run(worker_command, env=ENV, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    trials = _load(server_url, study_name).trials
    assert _finished(trials) == n_trials
    assert not [t for t in trials if t.state in (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING)]
    assert sum(t.state == optuna.trial.TrialState.FAIL for t in trials) == 20
