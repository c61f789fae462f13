"""`export` and `report`: the commands that turn a finished study into a model and a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from autosft.cli_support import console, errors, plugin_manager
from autosft.commands.options import NameOption, StorageOption, StudyOption, require_writable, selected_study
from autosft.errors import ConfigError
from autosft.views import calibration_line, print_slices, print_verdict

__all__ = ["export", "report"]


def export(
    context: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Folder to write the export to.", show_default=False)],
    study: StudyOption = None,
    storage: StorageOption = None,
    study_name: NameOption = None,
    refit: Annotated[
        str, typer.Option("--refit", help="train: as the trial ran; train+val: add validation rows, fixed epochs.")
    ] = "train",
    merge_lora: Annotated[bool, typer.Option("--merge-lora", help="Also write LoRA merged into the weights.")] = False,
    onnx: Annotated[bool, typer.Option("--onnx", help="Also write model.onnx, checked against torch on test.")] = False,
    calibrate: Annotated[
        bool,
        typer.Option("--calibrate/--no-calibrate", help="Temperature-scale the probabilities, fitted on validation."),
    ] = True,
    force: Annotated[bool, typer.Option("--force", help="Replace an earlier export in --out.")] = False,
    resamples: Annotated[int, typer.Option("--resamples", min=10, help="Bootstrap resamples of the test CIs.")] = 1000,
    device: Annotated[str | None, typer.Option("--device", help="cpu, cuda or cuda:N [default: auto]")] = None,
) -> None:
    """Retrain the selected trial, calibrate it on validation, score it once on test with 95 % CIs, and write
    model, config and run card."""
    from autosft.evaluate.refit import REFIT_MODES
    from autosft.export import export_study

    if refit not in REFIT_MODES:
        raise ConfigError(f"--refit must be one of {', '.join(REFIT_MODES)}, but got {refit!r}")
    url, name = selected_study(study, storage, study_name)
    outcome = export_study(
        url, name, out, refit_mode=refit, merge_lora=merge_lora, onnx=onnx,  # type: ignore[arg-type]
        calibrate_probabilities=calibrate, force=force, resamples=resamples, device=device,
        manager=plugin_manager(context),
    )  # fmt: skip
    console.print(f"exported trial {outcome.trial} to {outcome.folder} in {outcome.seconds:.1f}s; test split, 95 % CI:")
    width = max(map(len, outcome.test_metrics))
    for name, interval in outcome.test_metrics.items():
        console.print(f"  {name:<{width}}  {_interval(interval)}", highlight=False)
    if outcome.calibration is not None:
        console.print(calibration_line(outcome.calibration), highlight=False)
    if outcome.retained is not None:
        change = ", ".join(f"{name} {value:+.4f}" for name, value in outcome.retained["change"].items())
        dataset = outcome.retained["dataset"]
        console.print(f"reference {dataset!r}, fine-tuned vs pre-trained: {change}", highlight=False)
    if outcome.references is not None:
        print_verdict(console, outcome.references)
    print_slices(console, outcome.slices)
    if outcome.onnx is not None:
        size, difference, latency = (outcome.onnx[key] for key in ("size_bytes", "max_abs_difference",
                                                                   "cpu_latency_ms_per_row"))  # fmt: skip
        console.print(f"model.onnx: {size / 1e3:.0f} kB, max abs difference to torch {difference:.2g}, "
                      f"{latency:.4f} ms per row on CPU", highlight=False)  # fmt: skip


def _interval(interval: dict[str, Any]) -> str:
    value, low, high = interval["value"], interval["low"], interval["high"]
    if value != value:  # NaN: undefined on this split
        return "undefined"
    return f"{value:.4f}" + ("" if low != low else f"  [{low:.4f}, {high:.4f}]")


def report(
    context: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.", show_default=False)],
    study: StudyOption = None,
    storage: StorageOption = None,
    study_name: NameOption = None,
    export_dir: Annotated[
        Path | None, typer.Option("--export", help="An `autosft export` folder: adds the test-set plots.")
    ] = None,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="Write the Markdown summary here instead of printing it.")
    ] = None,
) -> None:
    """Write a self-contained HTML report of a study (plots work offline) and a Markdown summary."""
    from autosft.report import write_report

    require_writable(out, "--out")
    require_writable(markdown, "--markdown")
    written = write_report(*selected_study(study, storage, study_name), out, export_dir=export_dir)
    if markdown is None:
        print(written.markdown)
    else:
        markdown.write_text(written.markdown)
    errors.print(f"report: {out} ({written.html_bytes / 2**20:.1f} MB, {written.figures} plots)", highlight=False,
                 markup=False)  # fmt: skip
