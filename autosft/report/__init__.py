"""The study report: one self-contained HTML file with plots, and a Markdown summary.

``write_report`` reads a study (any Optuna study; an autosft one adds its metric names and learning
curves) and, optionally, an ``autosft export`` folder whose saved test predictions add the
exported model's confusion matrix, per-class metrics, ROC/PR curves and calibration. plotly and
optuna are imported here, never on the CLI's import path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autosft.errors import ConfigError
from autosft.report.model_figures import model_sections, read_export
from autosft.report.page import render_page
from autosft.report.slice_figures import slice_record, slice_section
from autosft.report.study_figures import study_sections
from autosft.report.summary import summarize
from autosft.search.study import CONFIG_ATTR, load_existing_study, stored_config
from autosft.storage import open_storage

__all__ = ["WrittenReport", "write_report"]


@dataclass
class WrittenReport:
    path: Path
    markdown: str
    html_bytes: int
    figures: int


def write_report(storage_url: str, study_name: str | None, out: str | Path, *,
                 export_dir: str | Path | None = None) -> WrittenReport:  # fmt: skip
    """Write the HTML report of a study to ``out`` and return it with its Markdown summary."""
    out = Path(out)
    if not out.parent.is_dir():
        raise ConfigError(f"--out {str(out)!r}: folder {str(out.parent)!r} does not exist")
    study = load_existing_study(open_storage(storage_url, must_exist=True), storage_url, study_name)
    config = stored_config(study, storage_url) if CONFIG_ATTR in study.user_attrs else None
    exported = read_export(export_dir) if export_dir is not None else None
    if exported is not None and exported.run_card["study"]["study_name"] != study.study_name:
        raise ConfigError(
            f"--export {str(export_dir)!r} is an export of study {exported.run_card['study']['study_name']!r}, "
            f"not of {study.study_name!r}"
        )
    summary = summarize(study, config, storage_url, exported.metrics if exported else None)
    sections = study_sections(study, config) + (model_sections(exported) if exported else [])
    sliced = slice_record(study, exported.metrics if exported else None)
    if sliced is not None:
        sections.append(slice_section(sliced))
    page = render_page(summary.title, summary.html(), sections)
    out.write_text(page, encoding="utf-8")
    drawn = sum(item.figure is not None for section in sections for item in section.figures)
    return WrittenReport(out, summary.markdown(), len(page.encode()), drawn)
