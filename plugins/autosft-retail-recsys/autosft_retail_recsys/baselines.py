"""The references a fine-tuned recommender is read against, and ``autosft retail-baselines``.

Segment popularity is registered as a reference (:class:`Popularity`, through
``autosft_register_references``), so every ranking study scores it on validation before the
search and once on test beside the chosen model; the pre-trained model as is comes from the core
(``pretrained_as_is``, which this plugin's builder enables where a pre-training population exists).
``autosft retail-baselines STUDY`` fits the same references and prints them on validation and
test beside the study's stored held-out test result, without running a search.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import numpy as np
import typer

from autosft import DataSplit, Metric, Predict, Reference, ReferenceData, Splits
from autosft_retail_recsys.data import INPUT_KIND

if TYPE_CHECKING:
    from autosft import PreparedStudy

__all__ = ["Popularity", "baseline_scores", "popularity_scores", "register_commands"]

PARTS = ("val", "test")


def popularity_scores(splits: Splits, split: DataSplit, train: DataSplit | None = None) -> np.ndarray:
    """Every row scored by how often each item was a target in ``train`` (the segment's training
    rows by default), with the history masked on rows flagged ``exclude_seen`` (as the model masks it)."""
    counts = np.bincount((train or splits.train).labels, minlength=splits.num_classes).astype(np.float64)
    scores = np.tile(counts, (len(split), 1))
    flags = np.asarray(split.inputs["exclude_seen"], dtype=bool)
    items = np.asarray(split.inputs["items"])
    for row in np.flatnonzero(flags):
        seen = items[row][items[row] > 0] - 1
        scores[row, seen] = -1.0
    return scores


class Popularity(Reference):
    """Items ranked by how often the segment bought them in its fitting rows."""

    name: ClassVar[str] = "popularity"
    description: ClassVar[str] = "items by purchase count in the segment's training rows, history masked"
    input_kinds: ClassVar[frozenset[str] | None] = frozenset({INPUT_KIND})
    task_types: ClassVar[frozenset[str]] = frozenset({"ranking"})

    def fit(self, data: ReferenceData) -> Predict:
        return lambda split: popularity_scores(data.splits, split, data.train)


def baseline_scores(prepared: PreparedStudy) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, str]]:
    """``({reference: {"val" | "test": {metric: value}}}, {skipped reference: reason})``, fitted on train."""
    from autosft import fit_references, score

    fitted = fit_references(prepared, "train")
    scores = {
        name: {part: score(prepared.metrics, getattr(prepared.splits, part).labels, fitted.predict(name, part))
               for part in PARTS}
        for name in fitted.predictors
    }  # fmt: skip
    return scores, fitted.skipped


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
    """Score the study's references (popularity, the pre-trained model as is) on its val and test
    splits, beside the fine-tuned winner's held-out test scores."""
    from autosft import ConfigError, console, errors, load_study_file, plugin_manager, prepare_study

    config = load_study_file(study_file)
    if config.task != "ranking":
        raise ConfigError(f"retail-baselines scores ranking studies, but {study_file!r} has task {config.task!r}")
    prepared = prepare_study(config, plugin_manager(context))
    scores, skipped = baseline_scores(prepared)
    rows = {f"{name} ({part})": scores[name][part] for part in PARTS for name in scores}
    if with_study:
        final = _final_test(config.storage, config.name)
        if final is not None:
            rows[f"fine-tuned, trial {final['trial']} (test)"] = final["test_metrics"]
    console.print(_table(dict(sorted(rows.items(), key=lambda row: row[0].endswith("(test)"))), prepared.metrics))
    console.print(f"rows: val {len(prepared.splits.val)}, test {len(prepared.splits.test)}; "
                  f"items: {prepared.splits.num_classes}")  # fmt: skip
    for name, reason in skipped.items():
        errors.print(f"[yellow]reference {name} skipped:[/] {reason}", highlight=False)


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
