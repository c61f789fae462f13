"""Presentation: the one-line parameter summaries and the Rich tables that commands print (the
selection, the chosen model vs the references, the calibration before and after).

Its own layer, above evaluation and search: they produce records (a trial's params, the
seed-robust selection), this module only renders them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from autosft.attrs import (
    EXTRA_METRICS_ATTR,
    FOLD_SCORES_ATTR,
    PORTFOLIO_ATTR,
    REFERENCE_BASELINE_ATTR,
    RERUN_ATTR,
    WARM_START_ATTR,
)
from autosft.evaluate.constraints import REFERENCE_DROP, RETAINED_PREFIX

if TYPE_CHECKING:
    import optuna
    from rich.console import Console

__all__ = ["KEY_PARAMS", "calibration_cells", "calibration_line", "describe_params", "fold_scores", "print_slices",
           "print_verdict", "pruned_at", "reference_cells", "reference_table", "retained_cell", "retained_metric",
           "selection_table", "slice_cells", "slice_line", "trial_origin"]  # fmt: skip

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


def trial_origin(trial: optuna.trial.FrozenTrial) -> str:
    """Where a trial's configuration came from, when not from the sampler: a seed re-run of another
    trial, an earlier study's trial (a warm start) or a portfolio entry; ``""`` otherwise. For progress and
    status lines."""
    rerun, warm = trial.user_attrs.get(RERUN_ATTR), trial.user_attrs.get(WARM_START_ATTR)
    portfolio = trial.user_attrs.get(PORTFOLIO_ATTR)
    if isinstance(rerun, dict):
        return f"re-run of trial {rerun['of']} with seed {rerun['seed']}"
    if isinstance(warm, dict):
        return f"warm start: trial {warm['trial']} of study {warm['study']!r}"
    if isinstance(portfolio, dict):
        return f"portfolio: {portfolio['model']} entry {portfolio['entry']}"
    return ""


def retained_metric(study: optuna.Study) -> str | None:
    """The metric a study's forgetting guard keeps on the reference (its objective), ``None`` without one."""
    baseline = study.user_attrs.get(REFERENCE_BASELINE_ATTR)
    return str(baseline["metric"]) if isinstance(baseline, dict) else None


def retained_cell(trial: optuna.trial.FrozenTrial, metric: str | None) -> str:
    """A trial's retained performance in a cell: ``0.7123 (drop +0.0210)``; ``""`` where it has none."""
    extra = trial.user_attrs.get(EXTRA_METRICS_ATTR)
    if metric is None or not isinstance(extra, dict) or f"{RETAINED_PREFIX}{metric}" not in extra:
        return ""
    drop = extra.get(REFERENCE_DROP)
    return _number(extra[f"{RETAINED_PREFIX}{metric}"]) + ("" if drop is None else f" (drop {drop:+.4f})")


def fold_scores(trial: optuna.trial.FrozenTrial) -> str:
    """A cross-validated trial's first objective per fold (``"folds 0.7712 0.7901"``); ``""`` without folds."""
    records = trial.user_attrs.get(FOLD_SCORES_ATTR)
    if not isinstance(records, list) or not records:
        return ""
    return "folds " + " ".join(_number(record["values"][0]) or "nan" for record in records)


def pruned_at(trial: optuna.trial.FrozenTrial) -> str:
    """Where a pruned trial stopped: ``"fold 2"`` with cross-validation (its steps are folds), else ``"epoch 3"``."""
    return f"{'fold' if trial.user_attrs.get(FOLD_SCORES_ATTR) else 'epoch'} {trial.last_step}"


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
            + [f"seed {seed} infeasible" for seed in row.get("infeasible_seeds", [])]
            + ([f"{len(row['pending_seeds'])} re-run(s) pending"] if row["pending_seeds"] else [])
        )
        runs = ", ".join(map(str, row["trials"]))
        table.add_row(chosen, str(row["trial"]), f"{row['mean']:.4f}", std, interval, runs,
                      describe_params(row["params"]), note)  # fmt: skip
    return table


def reference_cells(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The header and rows: the chosen model, then each reference, on validation and test."""
    objective = summary["objective"]
    header = ["model", f"validation {objective}", f"test {objective}", "note"]
    rows = [[row["name"], _number(row["validation"]), _number(row["test"]), row["note"]] for row in summary["rows"]]
    return header, rows


def reference_table(summary: dict[str, Any]) -> Table:
    """The cells as a rich table with the verdict line as its caption."""
    header, rows = reference_cells(summary)
    table = Table(title="the chosen model vs the references", caption=summary["verdict"], caption_justify="left")
    for index, column in enumerate(header):
        table.add_column(column, justify="right" if index in (1, 2) else "left", overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def print_verdict(console: Console, source: optuna.Study | dict[str, Any]) -> None:
    """Print the table of a verdict, or of a study's stored verdict; nothing for a study without one."""
    if not isinstance(source, dict):
        from autosft.evaluate.verdict import study_verdict

        found = study_verdict(source)
        if found is None:
            return
        source = found
    console.print(reference_table(source), soft_wrap=False)  # wrapped to the terminal, caption included


def slice_cells(record: dict[str, Any], split: str) -> tuple[list[str], list[list[str]]]:
    """The header and rows of one split's slices: overall, each scored slice with each metric and its
    interval, then the slices too small to score."""
    found = record["splits"][split]
    metrics = list(found["overall"])
    level = f"{round(record['confidence_level'] * 100)} % CI"
    header = ["slice", "rows", *(cell for name in metrics for cell in (name, level))]

    def cells(scores: dict[str, Any]) -> list[str]:
        return [cell for name in metrics for cell in (_number(scores[name]["value"]), _interval(scores[name]))]

    rows = [["overall", str(found["rows"]), *cells(found["overall"])]]
    for column, sliced in found["columns"].items():
        rows += [[f"{column}={row['slice']}", str(row["rows"]), *cells(row["metrics"])] for row in sliced["slices"]]
        rows += [[f"{column}={row['slice']}", str(row["rows"]), f"too small (< {record['min_rows']} rows)",
                  *[""] * (2 * len(metrics) - 1)] for row in sliced["too_small"]]  # fmt: skip
    return header, rows


def slice_line(record: dict[str, Any], split: str) -> str:
    """The worst slice of the objective's metric on one split, its interval and its gap to the overall score."""
    metric = record["objective"]
    worst = record["splits"][split]["worst"].get(metric)
    if worst is None:
        return f"{split}: no slice of at least {record['min_rows']} rows could be scored on {metric}"
    overall = record["splits"][split]["overall"][metric]["value"]
    gap = "" if worst.get("gap") is None else f", gap {worst['gap']:+.4f} to the overall {overall:.4f}"
    return (f"worst slice on {split}: {worst['column']}={worst['slice']} ({worst['rows']} rows) {metric} "
            f"{worst['value']:.4f} {_interval(worst)}{gap}")  # fmt: skip


def print_slices(console: Console, record: dict[str, Any] | None) -> None:
    """Print each split's slice table, then its worst-slice line; nothing without a record."""
    if record is None:
        return
    for split in record["splits"]:
        header, rows = slice_cells(record, split)
        table = Table(title=f"the selected model (trial {record['trial']}) per slice, {split}")
        for index, column in enumerate(header):
            table.add_column(column, justify="left" if index == 0 else "right", overflow="fold")
        for row in rows:
            table.add_row(*row)
        console.print(table)
        console.print(slice_line(record, split), highlight=False)


def _interval(scores: dict[str, Any]) -> str:
    if scores.get("low") is None or scores.get("high") is None:
        return ""
    return f"[{scores['low']:.4f}, {scores['high']:.4f}]"


def calibration_line(record: dict[str, Any]) -> str:
    """The calibration in one line: the temperature and ECE before -> after on validation and test, or
    why the export is not calibrated."""
    if record.get("skipped"):
        return f"not calibrated: {record['skipped']}"
    ece = ", ".join(f"{split} {record[split]['ece']['before']:.4f} -> {record[split]['ece']['after']:.4f}"
                    for split in ("validation", "test"))  # fmt: skip
    return (f"calibrated: temperature {record['temperature']:.3f} fitted on validation "
            f"({record['validation']['rows']} rows); ECE {ece}")  # fmt: skip


def calibration_cells(record: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a calibrated export: ECE, NLL and each metric, before and after, on
    validation and test (argmax and, for a binary task, ranking metrics stay as they were)."""
    header = ["", "validation before", "validation after", "test before", "test after"]
    splits = record["validation"], record["test"]
    quantities = [("ECE", [split["ece"] for split in splits]), ("NLL", [split["nll"] for split in splits])]
    quantities += [(name, [split["metrics"][name] for split in splits]) for name in splits[0]["metrics"]]
    cells = [
        [name, *(_number(pair[when]) for pair in pairs for when in ("before", "after"))] for name, pairs in quantities
    ]
    return header, cells


def _number(value: Any) -> str:
    if not isinstance(value, int | float) or math.isnan(value):
        return ""
    return f"{value:.4f}"
