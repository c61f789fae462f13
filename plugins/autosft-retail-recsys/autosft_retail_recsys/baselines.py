"""The references every fine-tuned recommender is read against: item popularity, and the
pre-trained model before fine-tuning, scored with the same ranking metrics on the same rows.

``autosft retail-baselines STUDY`` prints them beside the study's own held-out test result (when
the study has one), so "did fine-tuning on this segment help?" is one table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from autosft import DataSplit, Metric, Splits

if TYPE_CHECKING:
    from autosft import PreparedStudy

__all__ = ["baseline_scores", "popularity_scores", "register_commands"]

PARTS = ("val", "test")


def popularity_scores(splits: Splits, split: DataSplit) -> np.ndarray:
    """Every row scored by how often each item was a target in the segment's training rows, with
    the history masked on rows flagged ``exclude_seen`` (as the model masks it)."""
    counts = np.bincount(splits.train.labels, minlength=splits.num_classes).astype(np.float64)
    scores = np.tile(counts, (len(split), 1))
    flags = np.asarray(split.inputs["exclude_seen"], dtype=bool)
    items = np.asarray(split.inputs["items"])
    for row in np.flatnonzero(flags):
        seen = items[row][items[row] > 0] - 1
        scores[row, seen] = -1.0
    return scores


def baseline_scores(prepared: PreparedStudy) -> dict[str, dict[str, dict[str, float]]]:
    """``{"popularity" | "pretrained": {"val" | "test": {metric: value}}}`` on the study's splits."""
    from autosft import pick_device, predict, score, to_device_split

    splits, metrics = prepared.splits, prepared.metrics
    device = pick_device("cpu")
    module = prepared.builder.build(prepared.model_options, splits, seed=prepared.config.seed).module
    result: dict[str, dict[str, dict[str, float]]] = {"popularity": {}, "pretrained": {}}
    for part in PARTS:
        split = getattr(splits, part)
        result["popularity"][part] = score(metrics, split.labels, popularity_scores(splits, split))
        scores = predict(module, to_device_split(split, device.device), device, splits.task)
        result["pretrained"][part] = score(metrics, split.labels, scores)
    return result


def _table(columns: dict[str, dict[str, float]], metrics: Sequence[Metric]) -> Any:
    """Metrics as rows and models as columns: a narrow terminal still shows every number."""
    from rich.table import Table

    table = Table(title="ranking quality on the target segment")
    table.add_column("metric")
    for name in columns:
        table.add_column(name, justify="right")
    for metric in metrics:
        table.add_row(metric.name, *(f"{values.get(metric.name) or float('nan'):.4f}" for values in columns.values()))
    return table


def retail_baselines(
    context: typer.Context,
    study_file: Annotated[str, typer.Argument(help="Study file (YAML) of a ranking study.", show_default=False)],
    with_study: Annotated[
        bool, typer.Option("--with-study/--no-study", help="Add the stored study's held-out test row.")
    ] = True,
) -> None:
    """Score the popularity baseline and the pre-trained model (before fine-tuning) on the study's
    val and test splits, beside the fine-tuned winner's held-out test scores."""
    from autosft import ConfigError, console, load_study_file, plugin_manager, prepare_study

    config = load_study_file(study_file)
    if config.task != "ranking":
        raise ConfigError(f"retail-baselines scores ranking studies, but {study_file!r} has task {config.task!r}")
    prepared = prepare_study(config, plugin_manager(context))
    scores = baseline_scores(prepared)
    rows = {f"{name} ({part})": scores[name][part] for part in PARTS for name in scores}
    if with_study:
        final = _final_test(config.storage, config.name)
        if final is not None:
            rows[f"fine-tuned, trial {final['trial']} (test)"] = final["test_metrics"]
    console.print(_table(dict(sorted(rows.items(), key=lambda row: row[0].endswith("(test)"))), prepared.metrics))
    console.print(f"rows: val {len(prepared.splits.val)}, test {len(prepared.splits.test)}; "
                  f"items: {prepared.splits.num_classes}")  # fmt: skip


def _final_test(storage: str, name: str) -> dict[str, Any] | None:
    """The stored study's held-out test record, or ``None`` when there is no such study or result."""
    import optuna

    from autosft import FINAL_TEST_ATTR, StorageError, open_storage

    try:
        study = optuna.load_study(study_name=name, storage=open_storage(storage, must_exist=True))
    except (KeyError, StorageError):  # no database or no such study yet: the baselines stand alone
        return None
    return study.user_attrs.get(FINAL_TEST_ATTR)


def register_commands(app: typer.Typer) -> None:
    from autosft import reporting_errors

    app.command("retail-baselines")(reporting_errors(retail_baselines))
