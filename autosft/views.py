"""Presentation: the one-line parameter summaries and the Rich tables that commands print.

Its own layer, above evaluation and search: they produce records (a trial's params, the
seed-robust selection), this module only renders them.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

__all__ = ["KEY_PARAMS", "describe_params", "selection_table"]

#: Params shown in one-line trial summaries, in this order, when present.
KEY_PARAMS = (
    "adaptation",
    "freeze_depth",
    "unfreeze_every",
    "lora_rank",
    "learning_rate",
    "lora_learning_rate",
    "batch_size",
    "epochs",
    "imbalance",
    "augmentation",
)


def describe_params(params: dict[str, Any]) -> str:
    """A trial's key parameters on one line, rates abbreviated (``lr``, ``lora_lr``), for progress and status."""
    shown = []
    for name in KEY_PARAMS:
        if name in params:
            value = params[name]
            shown.append(f"{name.replace('_learning_rate', '_lr').replace('learning_rate', 'lr')}="
                         f"{value:.3g}" if isinstance(value, float) else f"{name}={value}")  # fmt: skip
    return " ".join(shown)


def selection_table(record: dict[str, Any]) -> Table:
    """The selection as a Rich table: one row per configuration, the chosen one marked."""
    confidence = f"{record['confidence']:.0%} CI"
    table = Table(title=f"seed-robust selection: {record['metric']} over {len(record['seeds'])} seeds")
    for column in ("", "trial", "mean", "std", confidence, "runs", "parameters", "note"):
        table.add_column(column, overflow="fold")
    for row in record["configurations"]:
        chosen = Text(">", style="bold green") if row["trial"] == record["selected_trial"] else ""
        interval = "" if row["ci_low"] is None else f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]"
        std = "" if row["std"] is None else f"{row['std']:.4f}"
        note = ", ".join(
            [f"seed {seed} failed" for seed in row["failed_seeds"]]
            + ([f"{len(row['pending_seeds'])} re-run(s) pending"] if row["pending_seeds"] else [])
        )
        runs = ", ".join(map(str, row["trials"]))
        table.add_row(chosen, str(row["trial"]), f"{row['mean']:.4f}", std, interval, runs,
                      describe_params(row["params"]), note)  # fmt: skip
    return table
