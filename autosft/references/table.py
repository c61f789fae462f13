"""Showing a verdict (:func:`autosft.references.verdict.summarize`): a terminal table and Markdown."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["markdown_lines", "reference_table"]


def reference_table(summary: dict[str, Any]) -> Table:
    """The chosen model and each reference, validation and test, then the verdict as the caption."""
    from rich.table import Table

    table = Table(title=f"references: {summary['objective']}", caption=summary["verdict"], caption_justify="left")
    for column in ("model", "validation", "test", "note"):
        table.add_column(column, justify="right" if column in ("validation", "test") else "left", overflow="fold")
    for row in summary["rows"]:
        table.add_row(row["name"], _number(row["validation"]), _number(row["test"]), row["note"])
    return table


def markdown_lines(summary: dict[str, Any]) -> list[str]:
    """The same table in Markdown, with the verdict line after it."""
    lines = [f"| model | validation {summary['objective']} | test {summary['objective']} | note |",
             "|---|---|---|---|"]  # fmt: skip
    for row in summary["rows"]:
        lines.append(f"| {row['name']} | {_number(row['validation'])} | {_number(row['test'])} | {row['note']} |")
    return [*lines, "", f"**Verdict:** {summary['verdict']}"]


def _number(value: Any) -> str:
    if not isinstance(value, int | float) or math.isnan(value):
        return ""
    return f"{value:.4f}"
