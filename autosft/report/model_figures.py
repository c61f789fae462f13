"""The exported model's plots, from the test predictions ``autosft export`` saved.

Confusion matrix, per-class precision/recall/F1, ROC and precision-recall curves and a
reliability (calibration) diagram, all one-vs-rest: a binary task shows its positive class, a
multiclass task each class, a multilabel task each label. Drawn from saved predictions, so the
report never touches the test split again.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

from autosft.errors import ConfigError
from autosft.report.study_figures import Figure, Section

__all__ = ["ExportedResults", "model_sections", "read_export"]

CALIBRATION_BINS = 10


class ExportedResults:
    """An export folder's test predictions, metrics with intervals and run card."""

    def __init__(self, folder: Path) -> None:
        from autosft.export.exporter import PREDICTIONS, RUN_CARD, TEST_METRICS

        missing = [name for name in (PREDICTIONS, TEST_METRICS, RUN_CARD) if not (folder / name).is_file()]
        if missing:
            raise ConfigError(f"--export {str(folder)!r} is not an autosft export folder: {', '.join(missing)} missing")
        with np.load(folder / PREDICTIONS) as saved:
            self.labels: np.ndarray = saved["labels"]
            self.probabilities: np.ndarray = saved["probabilities"]
            #: The model's test probabilities before calibration; ``None`` when the export is not calibrated.
            self.uncalibrated: np.ndarray | None = saved.get("uncalibrated_probabilities")
            self.class_names: list[str] = [str(name) for name in saved["class_names"]]
        self.metrics: dict[str, Any] = json.loads((folder / TEST_METRICS).read_text())
        self.run_card: dict[str, Any] = json.loads((folder / RUN_CARD).read_text())
        self.folder = folder

    @property
    def indicator(self) -> np.ndarray:
        """Labels as a (rows, classes) 0/1 matrix, whatever the task."""
        if self.labels.ndim == 2:
            return self.labels.astype(int)
        return np.eye(len(self.class_names), dtype=int)[self.labels.astype(int)]

    @property
    def curve_classes(self) -> list[int]:
        """Classes with their own curve: the positive one of a binary task, else all."""
        return [1] if self.labels.ndim == 1 and len(self.class_names) == 2 else list(range(len(self.class_names)))


def read_export(folder: str | Path) -> ExportedResults:
    return ExportedResults(Path(folder))


def model_sections(results: ExportedResults) -> list[Section]:
    record = results.metrics
    summary = Section(f"Exported model: trial {record['trial']} on the test split ({record['test_rows']} rows)")
    summary.html = _metrics_table(record)
    figures = [_per_class(results), _roc(results), _precision_recall(results), _calibration(results)]
    if results.labels.ndim == 1:
        figures.insert(0, _confusion(results))
    summary.figures = figures
    return [summary]


def _metrics_table(record: dict[str, Any]) -> str:
    level = round(record["confidence_level"] * 100)
    rows = []
    for name, interval in record["metrics"].items():
        value, low, high = (interval[key] for key in ("value", "low", "high"))
        shown = "undefined" if value is None else f"{value:.4f}"
        ci = "" if low is None else f"[{low:.4f}, {high:.4f}]"
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{shown}</td><td>{ci}</td></tr>")
    table = f"<table><tr><th>metric</th><th>test</th><th>{level} % CI (bootstrap)</th></tr>{''.join(rows)}</table>"
    retained = record.get("retained")
    if retained:
        lines = [
            f"<tr><td>{html.escape(name)}</td><td>{_number(retained['pretrained'][name])}</td>"
            f"<td>{_number(retained['fine_tuned'][name])}</td><td>{_number(change, sign=True)}</td></tr>"
            for name, change in retained["change"].items()
        ]
        table += (
            f"<h3>Retained performance on reference dataset {html.escape(retained['dataset'])} "
            f"({retained['test_rows']} rows)</h3><table><tr><th>metric</th><th>pre-trained</th><th>fine-tuned</th>"
            f"<th>change</th></tr>{''.join(lines)}</table>"
        )
    return table


def _number(value: float | None, *, sign: bool = False) -> str:
    return "undefined" if value is None else (f"{value:+.4f}" if sign else f"{value:.4f}")


def _confusion(results: ExportedResults) -> Figure:
    from sklearn.metrics import confusion_matrix

    classes = len(results.class_names)
    matrix = confusion_matrix(results.labels, results.probabilities.argmax(axis=1), labels=np.arange(classes))
    figure = go.Figure(go.Heatmap(z=matrix, x=results.class_names, y=results.class_names, colorscale="Blues",
                                  text=matrix, texttemplate="%{text}", hovertemplate="true %{y}<br>predicted %{x}"
                                  "<br>%{z} rows<extra></extra>"))  # fmt: skip
    figure.update_layout(xaxis_title="predicted", yaxis_title="true", yaxis_autorange="reversed", height=420)
    return Figure("Confusion matrix (argmax)", figure)


def _per_class(results: ExportedResults) -> Figure:
    from sklearn.metrics import precision_recall_fscore_support

    if results.labels.ndim == 2:
        predicted = (results.probabilities >= 0.5).astype(int)
        truth: np.ndarray = results.labels
    else:
        predicted, truth = results.probabilities.argmax(axis=1), results.labels
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=None if truth.ndim == 2 else np.arange(len(results.class_names)), zero_division=0
    )
    names = [f"{name} (n={count})" for name, count in zip(results.class_names, support, strict=True)]
    figure = go.Figure([go.Bar(name=label, x=names, y=values, text=[f"{v:.2f}" for v in values])
                        for label, values in (("precision", precision), ("recall", recall), ("F1", f1))])  # fmt: skip
    figure.update_layout(barmode="group", yaxis_range=[0, 1.05], height=400)
    return Figure("Per-class precision, recall and F1", figure)


def _roc(results: ExportedResults) -> Figure:
    from sklearn.metrics import auc, roc_curve

    figure = _diagonal(go.Figure(), "chance")
    for index in results.curve_classes:
        truth = results.indicator[:, index]
        if truth.min() == truth.max():
            continue  # one class only: no curve
        fpr, tpr, _ = roc_curve(truth, results.probabilities[:, index])
        figure.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines",
                                    name=f"{results.class_names[index]} (AUC {auc(fpr, tpr):.3f})"))  # fmt: skip
    figure.update_layout(xaxis_title="false positive rate", yaxis_title="true positive rate", height=420)
    return Figure("ROC curves (one-vs-rest)", figure)


def _precision_recall(results: ExportedResults) -> Figure:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    figure = go.Figure()
    for index in results.curve_classes:
        truth = results.indicator[:, index]
        if truth.max() == 0:
            continue
        precision, recall, _ = precision_recall_curve(truth, results.probabilities[:, index])
        ap = average_precision_score(truth, results.probabilities[:, index])
        name = f"{results.class_names[index]} (AP {ap:.3f}, base rate {truth.mean():.3f})"
        figure.add_trace(go.Scatter(x=recall, y=precision, mode="lines", line_shape="hv", name=name))
    # one curve still gets its legend: the entry carries the average precision and the base rate
    figure.update_layout(xaxis_title="recall", yaxis_title="precision", yaxis_range=[0, 1.05], height=420,
                         showlegend=True)  # fmt: skip
    return Figure("Precision-recall curves (one-vs-rest)", figure)


def _calibration(results: ExportedResults) -> Figure:
    """Reliability diagram: mean predicted probability against the observed rate, per probability bin
    (bins with rows only); a calibrated export draws the model before temperature scaling dashed."""
    figure = _diagonal(go.Figure(), "perfect calibration")
    drawn = [("", results.probabilities, "solid")]
    if results.uncalibrated is not None:
        drawn = [(" before", results.uncalibrated, "dash"), (" after", results.probabilities, "solid")]
    for suffix, probabilities, dash in drawn:
        for index in results.curve_classes:
            _reliability(figure, results.indicator[:, index], probabilities[:, index],
                         f"{results.class_names[index]}{suffix}", dash)  # fmt: skip
    figure.update_layout(xaxis_title="mean predicted probability", yaxis_title="observed frequency", height=420)
    title = "before and after temperature scaling, " if results.uncalibrated is not None else ""
    return Figure(f"Calibration ({title}{CALIBRATION_BINS} bins)", figure)


def _reliability(figure: go.Figure, truth: np.ndarray, predicted: np.ndarray, name: str, dash: str) -> None:
    edges = np.linspace(0, 1, CALIBRATION_BINS + 1)
    bins = np.clip(np.digitize(predicted, edges[1:-1]), 0, CALIBRATION_BINS - 1)
    used = [b for b in range(CALIBRATION_BINS) if np.any(bins == b)]
    mean_predicted = [predicted[bins == b].mean() for b in used]
    observed = [truth[bins == b].mean() for b in used]
    counts = [int(np.sum(bins == b)) for b in used]
    figure.add_trace(go.Scatter(x=mean_predicted, y=observed, mode="lines+markers", name=name, line={"dash": dash},
                                customdata=counts, hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}"
                                "<br>%{customdata} rows<extra></extra>"))  # fmt: skip


def _diagonal(figure: go.Figure, name: str) -> go.Figure:
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"},
                                name=name, hoverinfo="skip"))  # fmt: skip
    return figure
