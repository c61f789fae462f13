"""`validate`, `check-data` and `schema`: the commands that check a study file before a search."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from autosft.cli_support import console, plugin_manager
from autosft.commands.options import DropRepeatsOption, StudyFile, require_writable, with_drop_repeats

__all__ = ["check_data", "schema", "validate"]


def validate(context: typer.Context, study_file: StudyFile) -> None:
    """Check a study file as `search` would: keys, components, options, data, model and search space."""
    from autosft.config import load_study_file
    from autosft.evaluate.folds import small_validation_notice
    from autosft.search.controller import check_search_options
    from autosft.search.prepare import prepare_study
    from autosft.search.probe import check_forward

    config = load_study_file(study_file)
    check_search_options(config)
    prepared = prepare_study(config, plugin_manager(context))
    splits = prepared.splits
    model = prepared.builder.name
    built = prepared.builder.build(prepared.model_options, splits, seed=config.seed)
    check_forward(built, splits, model, prepared.registry.models.plugin_of(model))
    sizes = ", ".join(f"{name} {len(getattr(splits, name))}" for name in ("train", "val", "test"))
    pretrain = f", pretrain {len(splits.pretrain)}" if splits.pretrain is not None else ""
    objectives = ", ".join(f"{o.metric} ({d})" for o, d in zip(config.objectives, prepared.directions, strict=True))
    names = splits.class_names
    classes = ", ".join(names) if len(names) <= 20 else f"{len(names)} ({', '.join(names[:5])}, …)"  # ranking: items
    console.print(f"{study_file}: valid. rows: {sizes}{pretrain}; classes: {classes}; "
                  f"objective: {objectives}")  # fmt: skip
    console.print(f"search space: {', '.join(dimension.name for dimension in prepared.space)}")
    if prepared.folds:
        rows = ", ".join(str(len(fold.val)) for fold in prepared.folds)
        console.print(f"cross-validation: {len(prepared.folds)} folds of train+validation (validation rows {rows})")
    notice = small_validation_notice(config, splits)
    if notice is not None:
        console.print(f"validation: {notice}", highlight=False, markup=False)


def check_data(
    context: typer.Context,
    study_file: StudyFile,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the report as JSON to FILE.")] = None,
    drop_repeats: DropRepeatsOption = False,
) -> None:
    """Check a study's data: leakage across splits, duplicates, missing values, label conflicts,
    single-class splits, class balance and likely label errors. Exit 1 on errors, 0 otherwise."""
    from autosft.config import load_study_file
    from autosft.evaluate.datacheck import check_splits, render
    from autosft.registry import collect_registry
    from autosft.search.prepare import load_splits

    require_writable(out, "--out")
    config = with_drop_repeats(load_study_file(study_file), drop_repeats)
    report = check_splits(load_splits(config, collect_registry(plugin_manager(context))), seed=config.seed)
    for table in render(report):
        console.print(table)
    if out is not None:
        report.write(out)
    console.print(f"{study_file}: {len(report.errors)} error(s), {len(report.warnings)} warning(s)"
                  + (f"; report written to {out}" if out is not None else ""))  # fmt: skip
    if report.errors:
        raise typer.Exit(1)


def schema(context: typer.Context) -> None:
    """Print the JSON Schema of study files (for editors and CI checks)."""
    from autosft.config import StudyConfig

    print(json.dumps(StudyConfig.model_json_schema(), indent=2))
