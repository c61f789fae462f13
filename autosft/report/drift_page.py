"""The HTML page of an ``autosft drift`` record: the verdict, then one table per check."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from autosft.report.page import render_page
from autosft.report.study_figures import Section

__all__ = ["drift_html"]


def drift_html(record: Mapping[str, Any]) -> str:
    """A self-contained page of ``record`` (:func:`autosft.newdata.drift.check_drift`, plus ``study``,
    ``data`` and ``model``)."""
    facts = [("verdict", record["verdict"]), ("study", record.get("study", "")), ("new data", record.get("data", "")),
             ("model", record.get("model") or "none"), ("seconds", record["seconds"])]  # fmt: skip
    summary = "<table class='facts'>" + "".join(f"<tr><th>{_cell(name)}</th><td>{_cell(value)}</td></tr>"
                                                for name, value in facts) + "</table>"  # fmt: skip
    sections = []
    if record["features"] is not None:
        features = record["features"]
        keys = ("column", "kind", "test", "statistic", "p_value", "p_adjusted")
        rows = [[*(column[key] for key in keys), "yes" if column["drifted"] else ""] for column in features["columns"]]
        note = f"<p>p-values adjusted by {features['correction']}, alpha {features['alpha']}.</p>"
        sections.append(Section("Features vs the train split", html=note + _table(
            ["column", "kind", "test", "statistic", "p", "p adjusted", "drifted"], rows)))  # fmt: skip
    domain = record["domain_classifier"]
    if domain is not None:
        rows = [[domain["auc"], domain["low"], domain["high"], domain["rows"]["train"], domain["rows"]["new"],
                 "yes" if domain["drifted"] else ""]]  # fmt: skip
        sections.append(Section("Domain classifier on the model's embeddings", html=_table(
            ["ROC-AUC", "95 % low", "95 % high", "train rows", "new rows", "drifted"], rows)))  # fmt: skip
    if record["performance"] is not None:
        rows = [[name, item["new"], item["test"]] for name, item in record["performance"]["scores"].items()]
        sections.append(Section("Metrics on the new rows vs the export's test split",
                                html=_table(["metric", "new rows", "test"], rows)))  # fmt: skip
    return render_page("autosft drift", summary, sections)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_cell(name)}</th>" for name in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(value)}</td>" for value in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return html.escape("" if value is None else str(value))
