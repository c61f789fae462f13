"""benchmarks/gpu_check.sh --dry-run: the GPU acceptance run, end to end on the CPU at tiny sizes."""

from __future__ import annotations

import importlib.util
import subprocess

import pytest

from tests.conftest import REPO

STEPS = {
    "gpu-marked tests": "ok",
    "bf16 training": "ok",
    "CUDA out-of-memory retry": "skipped (dry run)",
    "worker recycling": "ok",
    "two workers on one device": "ok",
    # Trainer needs accelerate (the bench extra); without it the row says so instead.
    "samples/s vs HF Trainer": "ok" if importlib.util.find_spec("accelerate") else "skipped",
}


@pytest.mark.slow  # every step of the GPU check on CPU: about 45 s
def test_the_dry_run_exercises_every_step_and_prints_one_table() -> None:
    done = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--dry-run"], cwd=REPO,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    table = done.stdout[done.stdout.index("autosft GPU check (dry run, CPU)") :].splitlines()
    rows = {cells[0]: cells for line in table[2:] if len(cells := [cell.strip() for cell in line.split("|")]) == 4}
    assert {step: rows[step][1] for step in STEPS} == STEPS, table
    assert "4/4 trials finished by 4 worker processes" in rows["worker recycling"][3]
    assert "samples/s" in rows["samples/s vs HF Trainer"][3]
