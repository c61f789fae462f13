"""Parallel workers and per-trial overhead, measured side by side in one run.

1. Throughput: the same 16 single-threaded trials (toy MLP, fixed plan) with 1 and with 2 worker
   processes on PostgreSQL; trials per hour and the speed-up.
2. Overhead: a zero-cost objective (sample the full autosft search space, return a constant) run
   through autosft's worker loop (budget lock, heartbeat, stale-trial check, ask/tell) next to a
   plain ``study.optimize`` loop on Optuna's own storage, on SQLite, PostgreSQL and the Redis
   journal; milliseconds per trial around trial 10, 100 and 1,000. The random sampler is used so
   the sampler's own cost stays out of it.

    python benchmarks/workers.py [--trials 1000]

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, database test) and Redis at 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import optuna
import yaml

from autosft.config import parse_study
from autosft.search.budget import set_target
from autosft.search.prepare import prepare_study
from autosft.search.worker import work
from autosft.storage import open_storage, parse_storage_url
from autosft.storage.lock import StudyLock
from autosft.testing import toy_manager, toy_study

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"
FIXED_PLAN = {
    "adaptation": {"value": "full"},
    "batch_size": {"value": 16},
    "epochs": {"value": 6},
    "patience": {"value": 6},
    "imbalance": {"value": "none"},
    "augmentation": {"value": "none"},
}


def throughput(workers: int, trials: int, folder: Path) -> tuple[float, float]:
    """Trials per hour of `autosft search --workers N` on PostgreSQL, each trial single-threaded:
    over the whole command (process start-up included), and from the first trial's start to the
    last trial's end (steady state)."""
    name = f"bench-workers-{uuid.uuid4().hex[:8]}"
    dataset = {"name": "toy_blobs", "options": {"rows": 4000}}
    budget = {"n_trials": trials, "max_epochs": 6}
    study = toy_study(
        POSTGRES, name=name, dataset=dataset, budget=budget, search_space=FIXED_PLAN, pruner={"name": "none"}
    )
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study))
    env = {**os.environ, "AUTOSFT_PLUGINS": "autosft.testing:ToyPlugin", "AUTOSFT_TORCH_THREADS": "1"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autosft", "search", str(path), "--workers", str(workers), "--devices",
                    "cpu", "--no-final-test"], env=env, check=True, capture_output=True)  # fmt: skip
    seconds = time.perf_counter() - started
    finished = optuna.load_study(study_name=name, storage=POSTGRES).trials
    span = max(t.datetime_complete for t in finished) - min(t.datetime_start for t in finished)
    optuna.delete_study(study_name=name, storage=POSTGRES)
    return trials / seconds * 3600, trials / span.total_seconds() * 3600


def overhead(storage_url: str, trials: int, through_autosft: bool) -> dict[int, float]:
    """Milliseconds per trial in windows ending at trial 10, 100 and 1,000 (or ``trials``)."""
    config = parse_study(toy_study(storage_url, name=f"bench-overhead-{uuid.uuid4().hex[:8]}",
                                   sampler={"name": "random"}), where="benchmark")  # fmt: skip
    prepared = prepare_study(config, toy_manager())
    stamps: list[float] = []

    def objective(trial: optuna.Trial) -> float:
        prepared.space.sample(trial)
        return 0.5

    def stamp(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        stamps.append(time.perf_counter())

    storage = open_storage(storage_url, config.heartbeat) if through_autosft else _plain_storage(storage_url)
    study = optuna.create_study(storage=storage, study_name=config.name, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))  # fmt: skip
    stamps.append(time.perf_counter())
    if through_autosft:
        lock = StudyLock(storage_url, config.name)
        work(study, objective, lock=lock, target=set_target(study, lock, trials), callbacks=[stamp])
        lock.close()
    else:
        study.optimize(objective, n_trials=trials, callbacks=[stamp])
    optuna.delete_study(study_name=config.name, storage=storage)
    windows = {}
    for end in (10, 100, 1000):
        if end <= trials:
            start = max(0, end - 10)
            windows[end] = (stamps[end] - stamps[start]) / (end - start) * 1000
    return windows


def _plain_storage(url: str) -> optuna.storages.BaseStorage:
    """What a hand-written Optuna loop would open for ``url``: no retries, no heartbeats."""
    location = parse_storage_url(url)
    if location.family != "redis":
        return optuna.storages.get_storage(url)
    backend = optuna.storages.journal.JournalRedisBackend(location.redis_url, prefix=location.redis_prefix)
    return optuna.storages.journal.JournalStorage(backend)


def _redis_url() -> str:
    return f"{REDIS}?prefix=bench-{uuid.uuid4().hex[:8]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000, help="overhead runs go up to this trial")
    parser.add_argument("--throughput-trials", type=int, default=24)
    parser.add_argument("--part", choices=["all", "throughput", "overhead"], default="all")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)

    if args.part in ("all", "throughput"):
        with tempfile.TemporaryDirectory() as folder:
            one = throughput(1, args.throughput_trials, Path(folder))
            two = throughput(2, args.throughput_trials, Path(folder))
        print(f"throughput, {args.throughput_trials} single-threaded trials on PostgreSQL, 2 cores (trials/hour)")
        print(f"{'workers':>8} | {'whole command':>13} | {'steady state':>12} | {'speed-up (whole, steady)':>24}")
        for count, (whole, steady) in ((1, one), (2, two)):
            ratios = f"{whole / one[0]:.2f}, {steady / one[1]:.2f}"
            print(f"{count:>8} | {whole:>13.0f} | {steady:>12.0f} | {ratios:>24}")
        print()
    if args.part == "throughput":
        return
    print("overhead per trial (ms), zero-cost objective over the full autosft space, random sampler")
    print(f"{'storage':>10} | {'loop':>14} | " + " | ".join(f"{'trial ' + str(n):>10}" for n in (10, 100, 1000)))
    with tempfile.TemporaryDirectory() as folder:
        for label, url in (("sqlite", f"sqlite:///{folder}/bench.db"), ("postgresql", POSTGRES), ("redis", None)):
            for loop, through_autosft in (("plain optuna", False), ("autosft", True)):
                windows = overhead(url or _redis_url(), args.trials, through_autosft)
                cells = " | ".join(f"{windows[n]:>10.1f}" if n in windows else f"{'':>10}" for n in (10, 100, 1000))
                print(f"{label:>10} | {loop:>14} | {cells}")


if __name__ == "__main__":
    main()
