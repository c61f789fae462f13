"""Parallel search on one machine: one worker process per device slot, all pulling trials from the
same study through its storage.

Workers are ordinary ``autosft worker`` processes (the same command a cluster job runs), so a
local parallel search and a search spread over many machines are one mechanism. Each CUDA slot
sees only its own GPU (``CUDA_VISIBLE_DEVICES``); CPU slots split the cores between them. A GPU
worker is recycled: it leaves after ``recycle_after`` trials and a fresh process takes its slot,
so no allocator cache, fragmented memory or leaked handle of one trial weighs on the next.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import optuna

from autosft.config import STORAGE_ENV
from autosft.errors import ConfigError
from autosft.search.budget import budget_left
from autosft.search.worker import MAX_CONSECUTIVE_FAILURES, StudyCallback, WorkSummary

__all__ = ["THREADS_ENV", "WORKER_INDEX_ENV", "Slot", "device_names", "dispatch", "plan_slots"]

#: Torch intra-op threads a worker uses; set by the dispatcher so CPU workers do not oversubscribe.
THREADS_ENV = "AUTOSFT_TORCH_THREADS"
#: Index of a worker among its siblings; it offsets the sampler seed so workers propose different trials.
WORKER_INDEX_ENV = "AUTOSFT_WORKER_INDEX"
POLL_SECONDS = 1.0
#: Trials a GPU worker runs before a fresh process replaces it. One trial per process is the only
#: way to be sure nothing of a trial stays on the GPU; its cost is re-reading the (cached) data
#: and weights, seconds against a GPU trial's minutes.
GPU_RECYCLE_AFTER = 1


@dataclass(frozen=True)
class Slot:
    """Where one worker runs: the device it names, the environment that pins it, and how many
    trials each of its processes runs before it is replaced (``None``: one process throughout)."""

    device: str
    env: dict[str, str] = field(default_factory=dict)
    recycle_after: int | None = None


def plan_slots(
    devices: str | None, workers: int | None, *, cpu_count: int | None = None, recycle_after: int | None = None
) -> list[Slot]:
    """Slots for ``--devices`` (auto, cpu, or cuda:0,cuda:1,...) and ``--workers`` (slots in all).

    ``auto`` means every visible GPU, or the CPU when there is none. Workers are spread round-robin
    over the devices; CPU workers share the cores evenly (at least one thread each). Zero workers
    is a study prepared for workers started elsewhere (a cluster job). ``recycle_after`` (0 for
    never) overrides the default: GPU workers after every trial, CPU workers never.
    """
    if workers is not None and workers < 0:
        raise ConfigError(f"--workers must be 0 or more, but got {workers}")
    if recycle_after is not None and recycle_after < 0:
        raise ConfigError(f"--recycle-after must be 0 (never) or more, but got {recycle_after}")
    names = device_names(devices or "auto")
    count = len(names) if workers is None else workers
    cores = cpu_count or os.cpu_count() or 1
    cpu_slots = sum(1 for index in range(count) if names[index % len(names)] == "cpu")
    threads = str(max(1, cores // max(1, cpu_slots)))
    slots = []
    for index in range(count):
        name = names[index % len(names)]
        env = {WORKER_INDEX_ENV: str(index)}
        default = None if name == "cpu" else GPU_RECYCLE_AFTER
        recycle = default if recycle_after is None else (recycle_after or None)
        if name == "cpu":
            slots.append(Slot("cpu", {**env, THREADS_ENV: threads, "CUDA_VISIBLE_DEVICES": ""}, recycle))
        else:
            slots.append(Slot("cuda:0", {**env, "CUDA_VISIBLE_DEVICES": name.removeprefix("cuda:")}, recycle))
    return slots


def device_names(devices: str) -> list[str]:
    """The devices ``--devices`` names: ``auto`` is every visible GPU, or the CPU when there is none."""
    if devices == "auto":
        import torch

        return [f"cuda:{index}" for index in range(torch.cuda.device_count())] or ["cpu"]
    names = [name.strip() for name in devices.split(",") if name.strip()]
    for name in names:
        if name != "cpu" and not (name.startswith("cuda:") and name.removeprefix("cuda:").isdigit()):
            raise ConfigError(f"--devices takes auto, cpu or cuda:N[,cuda:M...], but got {name!r}")
    if not names:
        raise ConfigError("--devices names no device")
    return names


def dispatch(
    study: optuna.Study,
    slots: Sequence[Slot],
    *,
    storage_url: str,
    callbacks: Sequence[StudyCallback] = (),
    timeout: float | None = None,
) -> WorkSummary:
    """Start one worker per slot, report their trials as they finish, and wait for all of them.

    A worker that leaves cleanly to be recycled is replaced while the budget (and ``timeout``)
    allows and the last trials did not all fail. SIGINT or SIGTERM reaches the workers as SIGTERM:
    each re-queues its running trial and exits.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    seen = {trial.number for trial in study.get_trials(deepcopy=False) if trial.state.is_finished()}
    processes = [_start(study.study_name, storage_url, slot, timeout) for slot in slots]
    summary = WorkSummary([])
    try:
        while any(process.poll() is None for process in processes):
            time.sleep(POLL_SECONDS)
            _report(study, seen, summary, callbacks)
            for index, (slot, process) in enumerate(zip(slots, processes, strict=True)):
                if process.poll() is None or process.returncode != 0 or slot.recycle_after is None:
                    continue
                left = None if deadline is None else deadline - time.monotonic()
                if (left is None or left > 0) and not _failing(study, summary) and budget_left(study) > 0:
                    processes[index] = _start(study.study_name, storage_url, slot, left)
    except KeyboardInterrupt:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait()
        raise
    _report(study, seen, summary, callbacks)
    failed = [(slot.device, process.returncode) for slot, process in zip(slots, processes, strict=True)]
    failed = [(device, code) for device, code in failed if code != 0]
    if failed:
        summary.stopped_reason = "worker(s) exited with an error: " + ", ".join(
            f"{device} (exit {code})" for device, code in failed
        )
    elif _failing(study, summary):
        summary.stopped_reason = f"the last {MAX_CONSECUTIVE_FAILURES} trials failed; workers were not replaced"
    return summary


def _failing(study: optuna.Study, summary: WorkSummary) -> bool:
    """Whether the last trials reported all failed: recycled workers would only fail more."""
    last = summary.trial_numbers[-MAX_CONSECUTIVE_FAILURES:]
    if len(last) < MAX_CONSECUTIVE_FAILURES:
        return False
    states = {trial.number: trial.state for trial in study.get_trials(deepcopy=False)}
    return all(states[number] == optuna.trial.TrialState.FAIL for number in last)


def _start(study_name: str, storage_url: str, slot: Slot, timeout: float | None) -> subprocess.Popen[bytes]:
    # The URL travels in the environment, which only the user can read: on the command line its
    # password would show in everyone's `ps`.
    command = [sys.executable, "-m", "autosft", "worker", "--study-name", study_name, "--device", slot.device]
    command.append("--quiet")
    if slot.recycle_after is not None:
        command += ["--max-trials", str(slot.recycle_after)]
    if timeout is not None:
        command += ["--timeout", f"{timeout:.3f}"]
    return subprocess.Popen(command, env={**os.environ, **slot.env, STORAGE_ENV: storage_url})


def _report(study: optuna.Study, seen: set[int], summary: WorkSummary, callbacks: Sequence[StudyCallback]) -> None:
    for trial in study.get_trials(deepcopy=False):
        if trial.state.is_finished() and trial.number not in seen:
            seen.add(trial.number)
            summary.trial_numbers.append(trial.number)
            for callback in callbacks:
                callback(study, trial)
