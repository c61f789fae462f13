"""The selected model per slice: one plot per sliced metric, each slice's validation and test score
with its bootstrap interval, beside the overall score of each split.

Drawn from the slice record (:func:`autosft.evaluate.slices.slice_report`) an export wrote or the
search stored, so the report never scores a slice again.
"""

from __future__ import annotations

import html
from typing import Any

import optuna
import plotly.graph_objects as go

from autosft.evaluate.holdout import selected_trial
from autosft.evaluate.slices import stored_slices
from autosft.report.study_figures import Figure, Section
from autosft.views import slice_line

__all__ = ["slice_record", "slice_section"]

#: Marker colours of the two splits, as plotly's first two default colours.
SPLIT_COLOURS = {"validation": "#636efa", "test": "#ef553b"}


def slice_record(study: optuna.Study, export: dict[str, Any] | None) -> dict[str, Any] | None:
    """The export's slice record when an export is given (the exported model), else the one the search
    stored for the selected trial; ``None`` for a study without slices."""
    if export is not None:
        found = export.get("slices")
        return found if isinstance(found, dict) else None
    if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        return None
    return stored_slices(study, selected_trial(study).number)


def slice_section(record: dict[str, Any]) -> Section:
    """The worst-slice lines and the too-small slices above one figure per sliced metric."""
    level = round(record["confidence_level"] * 100)
    section = Section(f"Slices: trial {record['trial']} per slice of {', '.join(record['columns'])}")
    lines = [slice_line(record, split) for split in record["splits"]]
    small = sorted({f"{column}={row['slice']} ({row['rows']} rows in {split})"
                    for split, found in record["splits"].items()
                    for column, sliced in found["columns"].items() for row in sliced["too_small"]})  # fmt: skip
    if small:
        lines.append(f"too small to score (< {record['min_rows']} rows): {', '.join(small)}")
    section.html = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    for metric in record["splits"]["validation"]["overall"]:
        section.figures.append(Figure(f"{metric} per slice ({level} % bootstrap CI)", _figure(record, metric)))
    return section


def _figure(record: dict[str, Any], metric: str) -> go.Figure:
    figure = go.Figure()
    for split, found in record["splits"].items():
        rows = [(f"{column}={row['slice']}", row["rows"], row["metrics"][metric])
                for column, sliced in found["columns"].items() for row in sliced["slices"]]  # fmt: skip
        values = [scores["value"] for _, _, scores in rows]
        plus = [_distance(scores["high"], scores["value"]) for _, _, scores in rows]
        minus = [_distance(scores["value"], scores["low"]) for _, _, scores in rows]
        colour = SPLIT_COLOURS.get(split)
        figure.add_trace(go.Scatter(x=[name for name, _, _ in rows], y=values, mode="markers", name=split,
                                    marker={"size": 10, "color": colour},
                                    error_y={"type": "data", "symmetric": False, "array": plus, "arrayminus": minus},
                                    customdata=[count for _, count, _ in rows],
                                    hovertemplate="%{x}<br>" + f"{metric} " + "%{y:.4f}<br>%{customdata} rows"
                                    "<extra>" + split + "</extra>"))  # fmt: skip
        overall = found["overall"][metric]["value"]
        if overall is not None:
            figure.add_hline(y=overall, line={"dash": "dot", "color": colour}, annotation_text=f"{split} overall",
                             annotation_position="top left")  # fmt: skip
    figure.update_layout(yaxis_title=metric, xaxis_title="slice", height=420)
    return figure


def _distance(upper: float | None, lower: float | None) -> float:
    return 0.0 if upper is None or lower is None else upper - lower
