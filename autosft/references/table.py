"""Showing a verdict (:func:`autosft.references.verdict.summarize`): its cells, and a terminal table of them.

The report (:mod:`autosft.report.summary`) renders the same cells as Markdown and HTML.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna
    from rich.console import Console
    from rich.table import Table

__all__ = ["print_verdict", "reference_cells", "reference_table"]


def reference_cells(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The header and rows: the chosen model, then each reference, on validation and test."""
    objective = summary["objective"]
    header = ["model", f"validation {objective}", f"test {objective}", "note"]
    rows = [[row["name"], _number(row["validation"]), _number(row["test"]), row["note"]] for row in summary["rows"]]
    return header, rows


def reference_table(summary: dict[str, Any]) -> Table:
    """The cells as a rich table with the verdict line as its caption."""
    from rich.table import Table

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
        from autosft.references.verdict import study_verdict

        found = study_verdict(source)
        if found is None:
            return
        source = found
    console.print(reference_table(source))


def _number(value: Any) -> str:
    if not isinstance(value, int | float) or math.isnan(value):
        return ""
    return f"{value:.4f}"
