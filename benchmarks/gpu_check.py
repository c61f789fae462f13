"""The GPU acceptance run: every GPU-only path of autosft exercised once, one table at the end.

Steps, each a row of the table (status ``ok``, ``FAIL`` with the reason, or ``skipped`` with why):

- the ``gpu``-marked tests (``pytest -m gpu``);
- bf16 training: a trial of the toy MLP under autocast, its dtype and validation score;
- a real CUDA out-of-memory retry: the process's CUDA allocator is capped
  (``torch.cuda.set_per_process_memory_fraction``) so a trial's batch does not fit; the trial must
  finish on smaller micro-batches with gradient accumulation (:mod:`autosft.engine.memory`);
- worker recycling and two workers on one device: ``run_search`` with two worker processes on one
  device, each replaced after every trial (:mod:`autosft.search.dispatch`); every trial must come
  from its own process, and trials of the two workers must overlap in time;
- samples/s of one trial against Hugging Face ``Trainer`` on the same model, data, batch size and
  epochs (validation each epoch for both).

``--dry-run`` runs it all on the CPU at tiny sizes, so the script itself is tested without a GPU
(``tests/test_gpu_check.py``): the GPU-only steps say ``skipped (dry run)``, the others run on
the CPU. Exit status 1 when a step fails.

    bash benchmarks/gpu_check.sh [--dry-run] [--out bench-out/gpu_check]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: The toy plugin, for the worker processes the dispatcher starts (they load plugins by themselves).
PLUGINS_ENV = {"AUTOSFT_PLUGINS": "autosft.testing:ToyPlugin"}


@dataclass(frozen=True)
class Sizes:
    """How large the toy study of each step is: a real GPU run, or a dry run on two CPU cores."""

    rows: int
    features: int
    hidden: int
    blocks: int
    batch_size: int
    epochs: int
    worker_rows: int
    worker_epochs: int


REAL = Sizes(rows=50_000, features=256, hidden=1024, blocks=4, batch_size=256, epochs=3,
             worker_rows=20_000, worker_epochs=5)  # fmt: skip
DRY = Sizes(rows=600, features=8, hidden=32, blocks=2, batch_size=32, epochs=2, worker_rows=1_000, worker_epochs=6)


@dataclass(frozen=True)
class Row:
    step: str
    status: str
    detail: str
    seconds: float


# --------------------------------------------------------------------------------------------
# The toy study every step trains
# --------------------------------------------------------------------------------------------


def _study(storage: str, sizes: Sizes, *, rows: int | None = None, **overrides: Any) -> Any:
    from autosft.config import parse_study
    from autosft.testing import toy_study

    dataset = {"name": "toy_blobs", "options": {"rows": rows or sizes.rows, "features": sizes.features}}
    model = {"name": "toy_mlp", "options": {"hidden": sizes.hidden, "blocks": sizes.blocks}}
    return parse_study(toy_study(storage, name="gpu_check", dataset=dataset, model=model, **overrides), where="gpu")


def _manager() -> Any:
    """The built-ins and the toy plugin, named in the environment so the worker processes load it too."""
    from autosft.plugins import get_plugin_manager

    os.environ.update(PLUGINS_ENV)
    return get_plugin_manager(load_entry_points=False)


def _prepared(sizes: Sizes) -> Any:
    from autosft.search.prepare import prepare_study

    return prepare_study(_study("sqlite:///unused.db", sizes), _manager())


def _plan(sizes: Sizes) -> Any:
    from autosft.contracts import TrialPlan

    return TrialPlan(learning_rate=1e-3, batch_size=sizes.batch_size, epochs=sizes.epochs, warmup_ratio=0.0,
                     weight_decay=0.0, dropout=0.0, label_smoothing=0.0, patience=sizes.epochs,
                     adaptation="full")  # fmt: skip


def _device(dry_run: bool) -> Any:
    from autosft.engine.device import pick_device

    return pick_device("cpu" if dry_run else "cuda")


# --------------------------------------------------------------------------------------------
# Steps: each returns (status, detail) or yields rows; an exception is a FAIL row
# --------------------------------------------------------------------------------------------


def gpu_tests(dry_run: bool) -> tuple[str, str]:
    """``pytest -m gpu``: on the CPU of a dry run only the engine's GPU file, whose tests skip there."""
    paths = ["tests/engine/test_gpu.py"] if dry_run else []
    done = subprocess.run([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", *paths],
                          cwd=REPO, capture_output=True, text=True)  # fmt: skip
    last = (done.stdout.strip().splitlines() or ["no output"])[-1]
    return ("ok" if done.returncode == 0 else "FAIL"), last


def bf16_training(sizes: Sizes, dry_run: bool) -> tuple[str, str]:
    from autosft.search.objective import train_plan

    setup = _device(dry_run)
    prepared = _prepared(sizes)
    trained = train_plan(prepared, _plan(sizes), setup)
    dtype = str(setup.autocast_dtype).removeprefix("torch.") if setup.autocast_dtype else "float32 (no autocast)"
    score = trained.result.values[0]
    where = "on the CPU (dry run)" if dry_run else f"on {setup.device}"
    wanted = dry_run or (setup.autocast_dtype is not None and "bfloat16" in dtype)
    return ("ok" if wanted and score > 0.7 else "FAIL"), f"{where}, autocast {dtype}, val roc_auc {score:.3f}"


def oom_retry(sizes: Sizes, dry_run: bool) -> tuple[str, str]:
    """A batch that does not fit a capped allocator; the trial must finish on smaller micro-batches."""
    if dry_run:
        return "skipped (dry run)", "needs CUDA: the CPU raises no CUDA out-of-memory error"
    import torch

    from autosft.search.objective import train_plan

    setup = _device(dry_run)
    big = Sizes(rows=16_384, features=256, hidden=2048, blocks=2, batch_size=8_192, epochs=1, worker_rows=0,
                worker_epochs=0)  # fmt: skip
    prepared = _prepared(big)
    cap = 600 * 2**20  # the model, its optimizer state and a quarter of the batch's activations fit
    torch.cuda.set_per_process_memory_fraction(cap / torch.cuda.get_device_properties(0).total_memory)
    try:
        trained = train_plan(prepared, _plan(big), setup)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()
    retries = [note for note in trained.result.notes if note.startswith("out of GPU memory")]
    detail = f"{len(retries)} retries under a {cap >> 20} MiB cap: " + (retries[-1] if retries else "no OOM raised")
    return ("ok" if retries else "FAIL"), detail


def workers(sizes: Sizes, dry_run: bool, folder: Path) -> Iterator[Row]:
    """Two workers on one device, each process replaced after one trial."""
    from autosft.search.controller import run_search

    started = time.perf_counter()
    trials = 4
    epochs = {"epochs": {"value": sizes.worker_epochs}, "patience": {"value": sizes.worker_epochs}}
    config = _study(f"journal://{folder / 'study.log'}", sizes, rows=sizes.worker_rows, search_space=epochs,
                    budget={"n_trials": trials, "max_epochs": sizes.worker_epochs})  # fmt: skip
    outcome = run_search(config, manager=_manager(), final_test=False, devices="cpu" if dry_run else "cuda:0",
                         workers=2, recycle_after=1)  # fmt: skip
    seconds = time.perf_counter() - started
    done = [trial for trial in outcome.study.trials if trial.state.is_finished()]
    names = [trial.user_attrs.get("worker", "?") for trial in done]
    processes = {name.split(" on ")[0] for name in names}
    devices = {name.split(" on ")[-1] for name in names}
    recycled = len(done) == trials and len(processes) == trials
    yield Row("worker recycling", "ok" if recycled else "FAIL",
              f"{len(done)}/{trials} trials finished by {len(processes)} worker processes "
              f"(recycle after 1 trial)", seconds)  # fmt: skip
    overlap = _overlap(done)
    shared = len(devices) == 1 and overlap > 0
    yield Row("two workers on one device", "ok" if shared else "FAIL",
              f"devices {', '.join(sorted(devices))}; trials of both workers ran together for {overlap:.1f} s",
              seconds)  # fmt: skip


def _overlap(trials: list[Any]) -> float:
    """Seconds during which two trials ran at once (pairs of different worker processes)."""
    total = 0.0
    for index, one in enumerate(trials):
        for other in trials[index + 1 :]:
            if one.user_attrs.get("worker") == other.user_attrs.get("worker"):
                continue
            start = max(one.datetime_start, other.datetime_start)
            end = min(one.datetime_complete, other.datetime_complete)
            total += max(0.0, (end - start).total_seconds())
    return total


def vs_trainer(sizes: Sizes, dry_run: bool, folder: Path) -> tuple[str, str]:
    """Train samples/s of one autosft trial and of ``transformers.Trainer``: same module, data, batch."""
    try:
        import accelerate  # noqa: F401  (Trainer needs it)
    except ImportError:
        return "skipped", "Trainer needs accelerate: pip install -e '.[bench]'"
    from autosft.search.objective import train_plan

    setup = _device(dry_run)
    prepared = _prepared(sizes)
    plan = _plan(sizes)
    rows = len(prepared.splits.train) * plan.epochs
    started = time.perf_counter()
    train_plan(prepared, plan, setup)
    ours = rows / (time.perf_counter() - started)
    theirs = rows / _trainer_seconds(prepared, plan, dry_run, folder)
    return (
        "ok",
        f"autosft {ours:,.0f} vs Trainer {theirs:,.0f} samples/s ({ours / theirs:.2f}x), batch {plan.batch_size}",
    )


def _trainer_seconds(prepared: Any, plan: Any, dry_run: bool, folder: Path) -> float:
    """Seconds ``Trainer.train()`` takes for ``plan``'s epochs on the study's model, validating each epoch."""
    import torch
    from torch import nn
    from transformers import PrinterCallback, Trainer, TrainingArguments

    class WithLoss(nn.Module):
        def __init__(self, module: nn.Module) -> None:
            super().__init__()
            self.module = module

        def forward(self, inputs: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
            logits = self.module(inputs)
            return {"loss": nn.functional.cross_entropy(logits, labels), "logits": logits}

    def rows(split: Any) -> list[dict[str, torch.Tensor]]:
        inputs, labels = torch.as_tensor(split.inputs), torch.as_tensor(split.labels)
        return [{"inputs": inputs[row], "labels": labels[row]} for row in range(len(labels))]

    args = TrainingArguments(output_dir=str(folder / "trainer"), per_device_train_batch_size=plan.batch_size,
                             per_device_eval_batch_size=plan.batch_size, num_train_epochs=plan.epochs,
                             learning_rate=plan.learning_rate, eval_strategy="epoch", save_strategy="no",
                             logging_strategy="no", report_to=[], disable_tqdm=True, use_cpu=dry_run,
                             bf16=not dry_run, dataloader_num_workers=0, seed=0)  # fmt: skip
    model = WithLoss(prepared.build_model(plan).module)
    trainer = Trainer(model=model, args=args, train_dataset=rows(prepared.splits.train),
                      eval_dataset=rows(prepared.splits.val))  # fmt: skip
    trainer.remove_callback(PrinterCallback)  # its per-epoch dicts would bury the table
    started = time.perf_counter()
    trainer.train()
    return time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# The run and its table
# --------------------------------------------------------------------------------------------


def _timed(step: str, run: Callable[[], tuple[str, str]]) -> Row:
    started = time.perf_counter()
    try:
        status, detail = run()
    except Exception as error:  # a broken step is a row of the table, not the end of the run
        status, detail = "FAIL", f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error) else ''}"
    return Row(step, status, detail, time.perf_counter() - started)


def run_checks(dry_run: bool, folder: Path) -> list[Row]:
    """Every step in order; a failing step does not stop the next."""
    sizes = DRY if dry_run else REAL
    rows = [
        _timed("gpu-marked tests", lambda: gpu_tests(dry_run)),
        _timed("bf16 training", lambda: bf16_training(sizes, dry_run)),
        _timed("CUDA out-of-memory retry", lambda: oom_retry(sizes, dry_run)),
    ]
    started = time.perf_counter()
    try:
        rows += workers(sizes, dry_run, folder)
    except Exception as error:
        reason = f"{type(error).__name__}: {error}".splitlines()[0]
        rows += [Row(step, "FAIL", reason, time.perf_counter() - started)
                 for step in ("worker recycling", "two workers on one device")]  # fmt: skip
    rows.append(_timed("samples/s vs HF Trainer", lambda: vs_trainer(sizes, dry_run, folder)))
    return rows


def print_table(rows: list[Row], dry_run: bool) -> None:
    widths = [max(len(row.step) for row in rows), max(len(row.status) for row in rows)]
    print(f"autosft GPU check{' (dry run, CPU)' if dry_run else ''}")
    print(f"{'step':<{widths[0]}} | {'status':<{widths[1]}} | {'seconds':>7} | detail")
    for row in rows:
        print(f"{row.step:<{widths[0]}} | {row.status:<{widths[1]}} | {row.seconds:7.1f} | {row.detail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="Tiny sizes on the CPU: every step, no GPU.")
    parser.add_argument("--out", type=Path, default=None, help="Folder for the study files (default: a temp dir).")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="gpu_check-") as scratch:
        folder = args.out or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        rows = run_checks(args.dry_run, folder)
    print_table(rows, args.dry_run)
    return 1 if any(row.status == "FAIL" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
