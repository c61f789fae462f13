"""The data check's report: its findings, the JSON form a search stores, and its tables.

Kept apart from the checks so what they find and how it is shown change independently.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from rich.table import Table
from rich.text import Text

__all__ = ["EXAMPLES", "SCOPE", "DataReport", "Finding", "Severity", "examples", "render", "scope_notice"]

Severity = Literal["error", "warning", "info"]
#: The check name of findings that say what the check itself skipped, subsampled or dropped.
SCOPE = "scope"
#: Class columns shown in the rows-per-class table; a ranking study's items are thousands.
CLASS_COLUMNS = 20
#: Row indices kept per finding and label suspects kept in the report.
EXAMPLES = 20


@dataclass(frozen=True)
class Finding:
    """One result of one check; ``rows`` holds example row indices per split."""

    severity: Severity
    check: str
    message: str
    count: int = 0
    rows: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class DataReport:
    """Every finding on a study's data, the class counts per split, and the likeliest label errors."""

    fingerprint: str
    class_names: tuple[str, ...]
    rows: dict[str, int]
    class_counts: dict[str, list[int]]
    findings: list[Finding] = field(default_factory=list)
    label_suspects: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def errors(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity == "warning"]

    @property
    def notices(self) -> list[Finding]:
        """What the check skipped, subsampled or dropped, and why: printed with the warnings."""
        return [finding for finding in self.findings if finding.check == SCOPE]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``autosft check-data --out``, and the study's user attribute)."""
        record = asdict(self)
        record["class_names"] = list(self.class_names)
        record["errors"] = len(self.errors)
        record["warnings"] = len(self.warnings)
        return record

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n", encoding="utf-8")


def examples(rows: np.ndarray | list[int]) -> list[int]:
    """The first :data:`EXAMPLES` row indices, as plain ints (the report is JSON)."""
    return [int(row) for row in list(rows)[:EXAMPLES]]


def scope_notice(check: str, why: str) -> Finding:
    """A notice that ``check`` was skipped, subsampled or changed, and why."""
    return Finding("info", SCOPE, f"{check}: {why}")


_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


def render(report: DataReport, *, suspects: int = 10) -> list[Table]:
    """Rich tables: the findings, the rows and classes per split, and the top label suspects."""
    findings = Table(title=f"data check ({report.seconds:.1f}s)")
    for column in ("severity", "check", "finding", "example rows"):
        findings.add_column(column, overflow="fold")
    for finding in report.findings:
        examples = "; ".join(f"{name} {', '.join(map(str, rows[:8]))}" for name, rows in finding.rows.items())
        severity = Text(finding.severity, style=_STYLE[finding.severity])
        findings.add_row(severity, finding.check, Text(finding.message), examples)  # Text: brackets stay text
    shown = report.class_names[:CLASS_COLUMNS]
    hidden = len(report.class_names) - len(shown)
    classes = Table(title="rows per class" + (f" (first {len(shown)} of {len(report.class_names)})" if hidden else ""))
    classes.add_column("split")
    classes.add_column("rows", justify="right")
    for name in shown:
        classes.add_column(Text(name), justify="right")
    for split, counts in report.class_counts.items():
        classes.add_row(split, str(report.rows[split]), *map(str, counts[: len(shown)]))
    tables = [findings, classes]
    if report.label_suspects and suspects:
        top = Table(title=f"likeliest label errors (top {min(suspects, len(report.label_suspects))})")
        for column in ("split", "row", "given", "suggested", "confidence / class threshold"):
            top.add_column(column, justify="right" if column in {"row", "confidence / class threshold"} else "left")
        for suspect in report.label_suspects[:suspects]:
            top.add_row(suspect["split"], str(suspect["row"]), suspect["given"], suspect["suggested"],
                        f"{suspect['relative_confidence']:.3f}")  # fmt: skip
        tables.append(top)
    return tables
