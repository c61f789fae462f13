"""Where the model fails: every metric per slice (each value of a group column), with bootstrap
intervals, the worst slice and its gap to the overall score.

A slice column (a study's ``slices.columns``) is a group the dataset loader keeps beside the inputs,
never as a feature (:attr:`autosft.components.Splits.slices`). The grouping and the resampling are
Fairlearn's :class:`~fairlearn.metrics.MetricFrame` (its ``n_boot`` percentile intervals), not code of
ours. Each metric sees the rows of one slice through their indices (MetricFrame's ``y_pred`` holds
row numbers), so the metrics are autosft's own, computed on probabilities as in every trial. A slice
of fewer than ``min_rows`` rows is listed as too small and never scored: its score would be noise.

Two uses: :func:`worst_slice_scorer` gives each epoch of a trial its validation worst slice per
metric (``worst_slice_<metric>``, no intervals: cheap), which an objective may optimize
(``aggregate: worst_slice``); :func:`slice_report` scores the selected model on validation and test,
with intervals, for ``search``, ``best``, the run card and the report.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import optuna

from autosft.attrs import FINAL_TEST_ATTR, WORST_SLICE_PREFIX
from autosft.components import Metric, Splits
from autosft.config import SlicesConfig, StudyConfig
from autosft.engine.device import DeviceSetup
from autosft.engine.prepared import PreparedStudy
from autosft.engine.scoring import score
from autosft.errors import PluginError

__all__ = [
    "CONFIDENCE_LEVEL",
    "SPLIT_PARTS",
    "model_slices",
    "require_slices",
    "slice_report",
    "sliced_metrics",
    "split_slices",
    "stored_slices",
    "worst_slice_scorer",
]

CONFIDENCE_LEVEL = 0.95
#: The splits sliced, by their name in records and their part in :class:`Splits`.
SPLIT_PARTS = {"validation": "val", "test": "test"}


def sliced_metrics(metrics: Sequence[Metric], config: StudyConfig) -> list[Metric]:
    """The metrics scored per slice: the objectives' and those ``slices.metrics`` adds, in the study's
    metric order. Not all of them: each costs time in every epoch and bootstrap resample."""
    assert config.slices is not None
    names = {objective.metric for objective in config.objectives} | set(config.slices.metrics)
    return [metric for metric in metrics if metric.name in names]


def require_slices(splits: Splits, columns: Sequence[str], loader: str) -> None:
    """Fail, naming the loader, when it did not return one value per validation and test row of each column."""
    for part in SPLIT_PARTS.values():
        given = splits.slices.get(part, {})
        rows = len(getattr(splits, part))
        for column in columns:
            values = given.get(column)
            if values is None or len(values) != rows:
                seen = "none" if values is None else f"{len(values)} values"
                raise PluginError(
                    f"dataset {loader!r} must return Splits.slices[{part!r}][{column!r}] with one value per row "
                    f"({rows}), but gave {seen}"
                )


def worst_slice_scorer(
    metrics: Sequence[Metric], splits: Splits, config: SlicesConfig
) -> Callable[[np.ndarray], dict[str, float]]:
    """``scorer(val_probabilities) -> {"worst_slice_<metric>": value}``: the worst validation slice of
    at least ``min_rows`` rows per metric, over every slice column; NaN where no slice is scored."""
    labels, groups = splits.val.labels, splits.slices["val"]

    def scorer(probabilities: np.ndarray) -> dict[str, float]:
        worst: dict[str, float] = {}
        for column in config.columns:
            frame = _frame(metrics, labels, probabilities, groups[column], n_boot=None, seed=0)
            for metric in metrics:
                for value in _large(frame.by_group[metric.name], groups[column], config.min_rows):
                    key = WORST_SLICE_PREFIX + metric.name
                    if _worse(value, worst.get(key), metric):
                        worst[key] = value
        return {WORST_SLICE_PREFIX + metric.name: worst.get(WORST_SLICE_PREFIX + metric.name, math.nan)
                for metric in metrics}  # fmt: skip

    return scorer


def model_slices(
    prepared: PreparedStudy,
    module: Any,
    test_probabilities: np.ndarray,
    device: DeviceSetup,
    *,
    trial: int,
    temperature: float = 1.0,
) -> dict[str, Any] | None:
    """A trained model's :func:`slice_report` (its validation predictions made here, at ``temperature``),
    timed; ``None`` for a study without ``slices``."""
    config = prepared.config
    if config.slices is None:
        return None
    from autosft.engine.data import to_device_split
    from autosft.engine.loop import predict

    started = time.perf_counter()
    splits = prepared.splits
    val = predict(module, to_device_split(splits.val, device.device), device, splits.task, temperature=temperature)
    predictions = {"validation": val, "test": test_probabilities}
    record = slice_report(sliced_metrics(prepared.metrics, config), splits, predictions, config.slices, trial=trial,
                          objective=config.objectives[0].metric, seed=config.seed)  # fmt: skip
    return record | {"seconds": round(time.perf_counter() - started, 3)}


def slice_report(
    metrics: Sequence[Metric],
    splits: Splits,
    probabilities: Mapping[str, np.ndarray],
    config: SlicesConfig,
    *,
    trial: int,
    objective: str,
    seed: int,
) -> dict[str, Any]:
    """The JSON-ready record: per split (``validation``, ``test``), the overall and per-slice scores with
    intervals, the slices too small to score and the worst slice per metric; ``probabilities`` maps
    those split names to the model's predictions."""
    record: dict[str, Any] = {"trial": trial, "objective": objective, "columns": list(config.columns),
                              "min_rows": config.min_rows, "n_boot": config.n_boot,
                              "confidence_level": CONFIDENCE_LEVEL, "splits": {}}  # fmt: skip
    for name, part in SPLIT_PARTS.items():
        labels = getattr(splits, part).labels
        groups = {column: splits.slices[part][column] for column in config.columns}
        record["splits"][name] = split_slices(metrics, labels, probabilities[name], groups, min_rows=config.min_rows,
                                              n_boot=config.n_boot, seed=seed)  # fmt: skip
    return record


def split_slices(
    metrics: Sequence[Metric],
    labels: np.ndarray,
    probabilities: np.ndarray,
    groups: Mapping[str, np.ndarray],
    *,
    min_rows: int,
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    """One split: ``overall`` and, per column, ``slices`` (scored) and ``too_small``; then ``worst``, per
    metric the worst scored slice with its interval and ``gap`` (its value minus the overall value)."""
    overall: dict[str, Any] = {}
    columns: dict[str, Any] = {}
    for column, values in groups.items():
        frame = _frame(metrics, labels, probabilities, values, n_boot=n_boot, seed=seed)
        low, high = frame.overall_ci
        overall = {m.name: _interval(frame.overall[m.name], low[m.name], high[m.name]) for m in metrics}
        names, counts = np.unique(np.asarray(values, dtype=str), return_counts=True)
        sizes = dict(zip(names.tolist(), counts.tolist(), strict=True))
        low_group, high_group = frame.by_group_ci
        scored = [{"slice": name, "rows": rows,
                   "metrics": {m.name: _interval(frame.by_group.loc[name, m.name], low_group.loc[name, m.name],
                                                 high_group.loc[name, m.name]) for m in metrics}}
                  for name, rows in sizes.items() if rows >= min_rows]  # fmt: skip
        too_small = [{"slice": name, "rows": rows} for name, rows in sizes.items() if rows < min_rows]
        columns[column] = {"slices": scored, "too_small": too_small}
    return {"rows": len(labels), "overall": overall, "columns": columns, "worst": _worst(metrics, overall, columns)}


def stored_slices(study: optuna.Study, trial: int) -> dict[str, Any] | None:
    """The slice record of the study's final test when it tested ``trial`` (the selected one), else ``None``."""
    final = study.user_attrs.get(FINAL_TEST_ATTR)
    if not isinstance(final, dict) or final.get("trial") != trial:
        return None
    found = final.get("slices")
    return found if isinstance(found, dict) else None


def _frame(metrics: Sequence[Metric], labels: np.ndarray, probabilities: np.ndarray, values: np.ndarray, *,
           n_boot: int | None, seed: int) -> Any:  # fmt: skip
    """Fairlearn's MetricFrame of ``metrics`` over the groups of ``values``; rows travel as indices."""
    import pandas as pd
    from fairlearn.metrics import MetricFrame

    def on_rows(metric: Metric) -> Callable[[Any, Any], float]:
        def compute(_: Any, rows: Any) -> float:
            index = np.asarray(rows, dtype=np.int64)
            return score([metric], labels[index], probabilities[index])[metric.name]

        return compute

    rows = np.arange(len(labels))
    bootstrap = {} if n_boot is None else {"n_boot": n_boot, "ci_quantiles": [(1 - CONFIDENCE_LEVEL) / 2,
                                                                            (1 + CONFIDENCE_LEVEL) / 2]}  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an undefined resample (one class) is NaN; nanquantile skips it
        return MetricFrame(metrics={m.name: on_rows(m) for m in metrics}, y_true=rows, y_pred=rows,
                           sensitive_features=pd.Series(np.asarray(values, dtype=str), name="slice"),
                           random_state=seed, **bootstrap)  # fmt: skip


def _large(by_group: Any, values: np.ndarray, min_rows: int) -> list[float]:
    """The defined values of ``by_group`` (a Series by slice) of slices with at least ``min_rows`` rows."""
    names, counts = np.unique(np.asarray(values, dtype=str), return_counts=True)
    large = {name for name, rows in zip(names.tolist(), counts.tolist(), strict=True) if rows >= min_rows}
    return [float(value) for name, value in by_group.items() if name in large and not math.isnan(value)]


def _worse(value: float, current: float | None, metric: Metric) -> bool:
    if current is None:
        return True
    return value < current if metric.direction == "maximize" else value > current


def _worst(metrics: Sequence[Metric], overall: dict[str, Any], columns: dict[str, Any]) -> dict[str, Any]:
    worst: dict[str, Any] = {}
    for metric in metrics:
        for column, found in columns.items():
            for row in found["slices"]:
                interval = row["metrics"][metric.name]
                if interval["value"] is None:
                    continue
                if metric.name not in worst or _worse(interval["value"], worst[metric.name]["value"], metric):
                    worst[metric.name] = {"column": column, "slice": row["slice"], "rows": row["rows"], **interval}
        if metric.name in worst and overall[metric.name]["value"] is not None:
            worst[metric.name]["gap"] = round(worst[metric.name]["value"] - overall[metric.name]["value"], 6)
    return worst


def _interval(value: Any, low: Any, high: Any) -> dict[str, float | None]:
    """Rounded for storage, NaN as ``None`` (JSON has no NaN)."""

    def clean(number: Any) -> float | None:
        number = float(number)
        return None if math.isnan(number) else round(number, 6)

    return {"value": clean(value), "low": clean(low), "high": clean(high)}
