"""`drift`: whether a new data file is still the data the selected model was trained on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autosft.cli_support import console, plugin_manager
from autosft.commands.options import StudyFile, require_writable
from autosft.errors import ConfigError

__all__ = ["drift"]

#: What ``--out`` may end with, and what each writes.
_OUT_SUFFIXES = (".json", ".html")


def drift(
    context: typer.Context,
    study_file: StudyFile,
    data: Annotated[
        Path, typer.Option("--data", help="New data file, as the study's loader reads it.", show_default=False)
    ],
    model: Annotated[
        Path | None, typer.Option("--model", help="An `autosft export` folder: embeddings and metrics.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the record as JSON or HTML (by suffix).")] = None,
    resamples: Annotated[int, typer.Option("--resamples", min=10, help="Bootstrap resamples of the CIs.")] = 1000,
    device: Annotated[str | None, typer.Option("--device", help="cpu, cuda or cuda:N [default: auto]")] = None,
) -> None:
    """Compare a new data file with the study's train split: per-feature tests, a domain classifier on the
    model's embeddings, metrics when labelled. Exit 1 on drift, 0 otherwise."""
    from autosft.config import load_study_file
    from autosft.newdata import load_new_rows, load_study, open_export, require_data_file
    from autosft.newdata.drift import check_drift, drift_json, read_test_metrics

    if out is not None and out.suffix.lower() not in _OUT_SUFFIXES:
        raise ConfigError(f"--out {str(out)!r} must end with {' or '.join(_OUT_SUFFIXES)}")
    require_writable(out, "--out")
    require_data_file(data)
    config = load_study_file(study_file)
    manager = plugin_manager(context)
    exported = open_export(model, manager, config=config) if model is not None else None
    study = load_study(config, manager)
    new = load_new_rows(study, data)
    if exported is None and not new.features:
        raise ConfigError(
            f"{study.splits.input_kind} data has no feature columns to test one by one: give --model, an "
            "`autosft export` folder, to compare the rows through its embeddings"
        )
    test_metrics = read_test_metrics(model) if model is not None else {}
    record = check_drift(study, new, model=exported, test_metrics=test_metrics, device=device, resamples=resamples)
    record = {"study": config.name, "data": str(data), "model": None if model is None else str(model), **record}
    if out is not None:
        if out.suffix.lower() == ".html":
            from autosft.report.drift_page import drift_html

            out.write_text(drift_html(record))
        else:
            out.write_text(drift_json(record))
    console.print(record["verdict"], highlight=False)
    if record["drift"]:
        raise typer.Exit(1)
