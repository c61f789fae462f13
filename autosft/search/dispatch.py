"""Parallel search on one machine: one worker process per device slot, all pulling trials from the
same study through its storage.

Workers are ordinary ``autosft worker`` processes (the same command a cluster job runs), so a
local parallel search and a search spread over many machines are one mechanism. Each CUDA slot
sees only its own GPU (``CUDA_VISIBLE_DEVICES``); CPU slots split the cores between them.
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

from autosft.errors import ConfigError
from autosft.search.worker import StudyCallback, WorkSummary

__all__ = ["THREADS_ENV", "WORKER_INDEX_ENV", "Slot", "device_names", "dispatch", "plan_slots"]

#: Torch intra-op threads a worker uses; set by the dispatcher so CPU workers do not oversubscribe.
THREADS_ENV = "AUTOSFT_TORCH_THREADS"
#: Index of a worker among its siblings; it offsets the sampler seed so workers propose different trials.
WORKER_INDEX_ENV = "AUTOSFT_WORKER_INDEX"
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Slot:
    """Where one worker runs: the device it names and the environment that pins it."""

    device: str
    env: dict[str, str] = field(default_factory=dict)


def plan_slots(devices: str | None, workers: int | None, *, cpu_count: int | None = None) -> list[Slot]:
    """Slots for ``--devices`` (auto, cpu, or cuda:0,cuda:1,...) and ``--workers`` (slots in all).

    ``auto`` means every visible GPU, or the CPU when there is none. Workers are spread round-robin
    over the devices; CPU workers share the cores evenly (at least one thread each). Zero workers
    is a study prepared for workers started elsewhere (a cluster job).
    """
    if workers is not None and workers < 0:
        raise ConfigError(f"--workers must be 0 or more, but got {workers}")
    names = device_names(devices or "auto")
    count = len(names) if workers is None else workers
    cores = cpu_count or os.cpu_count() or 1
    cpu_slots = sum(1 for index in range(count) if names[index % len(names)] == "cpu")
    threads = str(max(1, cores // max(1, cpu_slots)))
    slots = []
    for index in range(count):
        name = names[index % len(names)]
        env = {WORKER_INDEX_ENV: str(index)}
        if name == "cpu":
            slots.append(Slot("cpu", {**env, THREADS_ENV: threads, "CUDA_VISIBLE_DEVICES": ""}))
        else:
            slots.append(Slot("cuda:0", {**env, "CUDA_VISIBLE_DEVICES": name.removeprefix("cuda:")}))
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
    study: optuna.Study, slots: Sequence[Slot], *, storage_url: str, callbacks: Sequence[StudyCallback] = ()
) -> WorkSummary:
    """Start one worker per slot, report their trials as they finish, and wait for all of them.

    SIGINT or SIGTERM reaches the workers as SIGTERM: each re-queues its running trial and exits.
    """
    seen = {trial.number for trial in study.get_trials(deepcopy=False) if trial.state.is_finished()}
    processes = [_start(study.study_name, storage_url, slot) for slot in slots]
    summary = WorkSummary([])
    try:
        while any(process.poll() is None for process in processes):
            time.sleep(POLL_SECONDS)
            _report(study, seen, summary, callbacks)
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
    return summary


def _start(study_name: str, storage_url: str, slot: Slot) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "autosft", "worker", "--storage", storage_url, "--study-name", study_name,
               "--device", slot.device, "--quiet"]  # fmt: skip
    return subprocess.Popen(command, env={**os.environ, **slot.env})


def _report(study: optuna.Study, seen: set[int], summary: WorkSummary, callbacks: Sequence[StudyCallback]) -> None:
    for trial in study.get_trials(deepcopy=False):
        if trial.state.is_finished() and trial.number not in seen:
            seen.add(trial.number)
            summary.trial_numbers.append(trial.number)
            for callback in callbacks:
                callback(study, trial)
