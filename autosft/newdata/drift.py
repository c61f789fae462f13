"""`autosft drift` as a function: is a new file still the data the selected model was trained on?

Three looks, each with its own error control, and one verdict: drift when any of them says so.

1. **Per feature** (tables, from ``NewRows.features``): the two-sample Kolmogorov-Smirnov test for a
   numeric column, the chi-squared test of the category counts for a categorical one, against the
   study's train split; p-values corrected over the columns by Benjamini-Hochberg, so ``alpha`` is
   the expected share of false alarms among the columns flagged.
2. **Domain classifier** (any input kind, with a model): a logistic regression told to tell train
   rows from new rows on the model's embeddings (the input of its head). Its cross-validated
   ROC-AUC is 0.5 when the model cannot see a difference; the 95 % interval is a bootstrap of the
   out-of-fold scores. Drift when the interval's lower bound clears ``auc_margin`` above 0.5: a
   difference the model sees, and large enough to matter, not one any big sample makes significant.
3. **Performance** (with labels and a model): the model's metrics on the new rows with bootstrap
   intervals against the export's test intervals (``test_metrics.json``); drift when an objective
   metric's interval on new rows lies wholly on the bad side of its test interval.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from autosft.components import NewRows
from autosft.engine.scoring import score
from autosft.evaluate.bootstrap import bootstrap_intervals
from autosft.export.exporter import TEST_METRICS
from autosft.export.model import ExportedModel
from autosft.newdata.rows import StudyData, as_split, embed

__all__ = [
    "ALPHA",
    "AUC_MARGIN",
    "MAX_ROWS",
    "RESAMPLES",
    "check_drift",
    "domain_classifier",
    "drift_json",
    "feature_tests",
    "read_test_metrics",
    "verdict_line",
]

#: Expected share of false alarms among flagged features (Benjamini-Hochberg).
ALPHA = 0.05
#: Drift when the domain classifier's ROC-AUC interval lies above 0.5 + this.
AUC_MARGIN = 0.05
#: Rows per side the domain classifier sees at most (a seeded random subsample beyond).
MAX_ROWS = 2000
_FOLDS = 5
#: Bootstrap resamples of every interval drift draws.
RESAMPLES = 1000


def check_drift(
    study: StudyData,
    new: NewRows,
    *,
    model: ExportedModel | None = None,
    test_metrics: Mapping[str, Mapping[str, Any]] | None = None,
    device: str | None = None,
    alpha: float = ALPHA,
    auc_margin: float = AUC_MARGIN,
    max_rows: int = MAX_ROWS,
    resamples: int = RESAMPLES,
) -> dict[str, Any]:
    """The drift record of ``new`` against ``study``'s train split: ``features``, ``domain_classifier``
    and ``performance`` (each ``None`` when it does not apply), ``drift`` (bool), ``reasons`` and
    ``verdict`` (one line), ``seconds``.

    ``model`` (the export) enables the domain classifier and, with labels, the performance check
    against ``test_metrics`` (the export's ``{metric: {"value", "low", "high"}}``).
    """
    started = time.perf_counter()
    seed = study.config.seed
    record: dict[str, Any] = {"rows": {"train": len(study.splits.train), "new": len(new)},
                              "labelled": new.labels is not None}  # fmt: skip
    record["features"] = feature_tests(new.train_features, new.features, alpha=alpha) if new.features else None
    record["domain_classifier"] = record["performance"] = None
    if model is not None:
        train = embed(model.module, study.splits.train, device=device)
        fresh = embed(model.module, new, device=device)
        record["domain_classifier"] = domain_classifier(train, fresh, margin=auc_margin, max_rows=max_rows,
                                                        resamples=resamples, seed=seed)  # fmt: skip
        if new.labels is not None:
            record["performance"] = _performance(study, new, model, test_metrics or {}, device, resamples, seed)
    record["reasons"] = _reasons(record)
    record["drift"] = bool(record["reasons"])
    record["verdict"] = verdict_line(record)
    record["seconds"] = round(time.perf_counter() - started, 3)
    return record


# --------------------------------------------------------------------------------------------
# Per-feature tests
# --------------------------------------------------------------------------------------------


def feature_tests(
    train: Mapping[str, np.ndarray], new: Mapping[str, np.ndarray], *, alpha: float = ALPHA
) -> dict[str, Any]:
    """KS (numeric) or chi-squared (categorical) per column, Benjamini-Hochberg adjusted; ``drifted``
    lists the columns whose adjusted p-value is below ``alpha``, most shifted first."""
    from scipy.stats import false_discovery_control

    columns = [{"column": name, **_test_column(train[name], values)} for name, values in new.items()]
    defined = [column for column in columns if not math.isnan(column["p_value"])]
    adjusted = false_discovery_control([column["p_value"] for column in defined]) if defined else []
    for column, value in zip(defined, adjusted, strict=True):
        column["p_adjusted"] = float(value)
        column["drifted"] = bool(value < alpha)
    for column in columns:
        column.setdefault("p_adjusted", math.nan)
        column.setdefault("drifted", False)
    drifted = sorted((column for column in columns if column["drifted"]), key=lambda column: column["p_adjusted"])
    return {"correction": "benjamini-hochberg", "alpha": alpha, "columns": columns,
            "drifted": [column["column"] for column in drifted]}  # fmt: skip


def _test_column(train: np.ndarray, new: np.ndarray) -> dict[str, Any]:
    from scipy.stats import chi2_contingency, ks_2samp

    if train.dtype.kind == "f" and new.dtype.kind == "f":
        old, fresh = train[~np.isnan(train)], new[~np.isnan(new)]
        if not len(old) or not len(fresh):
            return {"kind": "numeric", "test": "ks", "statistic": math.nan, "p_value": math.nan}
        result = ks_2samp(old, fresh)
        return {"kind": "numeric", "test": "ks", "statistic": float(result.statistic), "p_value": float(result.pvalue),
                "train_median": float(np.median(old)), "new_median": float(np.median(fresh))}  # fmt: skip
    old_counts, new_counts = _counts(train), _counts(new)
    categories = sorted(set(old_counts) | set(new_counts))
    table = np.array(
        [[old_counts.get(name, 0) for name in categories], [new_counts.get(name, 0) for name in categories]]
    )
    if len(categories) < 2:
        return {"kind": "categorical", "test": "chi2", "statistic": 0.0, "p_value": 1.0}
    result = chi2_contingency(table)
    shares = table / table.sum(axis=1, keepdims=True)
    moved = categories[int(np.argmax(np.abs(shares[1] - shares[0])))]
    cramers_v = math.sqrt(result.statistic / table.sum() / (min(table.shape) - 1))
    return {"kind": "categorical", "test": "chi2", "statistic": float(result.statistic),
            "p_value": float(result.pvalue), "cramers_v": float(cramers_v),
            "most_changed": moved, "train_share": float(shares[0][categories.index(moved)]),
            "new_share": float(shares[1][categories.index(moved)])}  # fmt: skip


def _counts(values: np.ndarray) -> dict[str, int]:
    """Category counts, missing values as their own category."""
    names = ["(missing)" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
             for value in values.tolist()]  # fmt: skip
    unique, counts = np.unique(np.array(names, dtype=object), return_counts=True)
    return dict(zip(map(str, unique), map(int, counts), strict=True))


# --------------------------------------------------------------------------------------------
# Domain classifier
# --------------------------------------------------------------------------------------------


def domain_classifier(
    train: np.ndarray,
    new: np.ndarray,
    *,
    margin: float = AUC_MARGIN,
    max_rows: int = MAX_ROWS,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """Cross-validated ROC-AUC of a logistic regression telling ``train`` rows (0) from ``new`` rows (1),
    with a bootstrap 95 % interval over its out-of-fold scores; ``drifted`` when the interval's lower
    bound exceeds ``0.5 + margin``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    old, fresh = _subsample(train, max_rows, rng), _subsample(new, max_rows, rng)
    features = np.concatenate([old, fresh]).astype(np.float64)
    is_new = np.concatenate([np.zeros(len(old), dtype=np.int64), np.ones(len(fresh), dtype=np.int64)])
    folds = min(_FOLDS, len(old), len(fresh))
    if folds < 2:
        return {"auc": math.nan, "low": math.nan, "high": math.nan, "drifted": False,
                "rows": {"train": len(old), "new": len(fresh)}, "folds": folds}  # fmt: skip
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_predict(classifier, features, is_new, cv=splitter, method="predict_proba")[:, 1]
    auc = _auc(is_new, scores)
    draws = []
    for _ in range(resamples):
        rows = rng.integers(0, len(is_new), len(is_new))
        if 0 < is_new[rows].sum() < len(rows):
            draws.append(_auc(is_new[rows], scores[rows]))
    low, high = (float(value) for value in np.percentile(draws, [2.5, 97.5]))
    return {"auc": auc, "low": low, "high": high, "level": 0.95, "margin": margin, "drifted": bool(low > 0.5 + margin),
            "classifier": "logistic_regression", "folds": folds, "features": int(features.shape[1]),
            "rows": {"train": len(old), "new": len(fresh)}}  # fmt: skip


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC as the Mann-Whitney statistic: ``roc_auc_score``'s value, far faster, for the bootstrap."""
    from scipy.stats import rankdata

    positives = labels == 1
    count = int(positives.sum())
    return float((rankdata(scores)[positives].sum() - count * (count + 1) / 2) / (count * (len(labels) - count)))


def _subsample(array: np.ndarray, rows: int, rng: np.random.Generator) -> np.ndarray:
    return array if len(array) <= rows else array[np.sort(rng.choice(len(array), rows, replace=False))]


# --------------------------------------------------------------------------------------------
# Performance on labelled new rows
# --------------------------------------------------------------------------------------------


def _performance(
    study: StudyData,
    new: NewRows,
    model: ExportedModel,
    test_metrics: Mapping[str, Mapping[str, Any]],
    device: str | None,
    resamples: int,
    seed: int,
) -> dict[str, Any]:
    """Each objective metric on the new rows (bootstrap 95 % interval) beside the export's test interval,
    and every other fitting metric's value on new rows beside its test value."""
    assert new.labels is not None
    registry, config = study.registry, study.config
    metrics = [registry.metrics.get(objective.metric) for objective in config.objectives]
    probabilities = model.predict(as_split(new), device=device)
    intervals = bootstrap_intervals(metrics, new.labels, probabilities, resamples=resamples, seed=seed)
    compared: dict[str, Any] = {}
    for metric, objective in zip(metrics, config.objectives, strict=True):
        direction = objective.direction or metric.direction
        on_new, on_test = intervals[metric.name], test_metrics.get(metric.name)
        worse = False
        if on_test is not None and on_test.get("low") is not None and not math.isnan(on_new["high"]):
            worse = (on_new["high"] < on_test["low"]) if direction == "maximize" else (on_new["low"] > on_test["high"])
        compared[metric.name] = {"direction": direction, "new": on_new, "test": dict(on_test) if on_test else None,
                                 "worse": bool(worse)}  # fmt: skip
    fitting = [metric for metric in registry.metrics.values()
               if config.task in metric.task_types and metric.min_classes <= study.splits.num_classes]  # fmt: skip
    every = score(fitting, new.labels, probabilities)
    return {"metrics": compared, "scores": {name: {"new": value, "test": (test_metrics.get(name) or {}).get("value")}
                                            for name, value in every.items()}}  # fmt: skip


# --------------------------------------------------------------------------------------------
# The verdict
# --------------------------------------------------------------------------------------------


def _reasons(record: Mapping[str, Any]) -> list[str]:
    reasons = []
    if record["features"] is not None and record["features"]["drifted"]:
        shown = record["features"]["drifted"]
        reasons.append(
            f"features shifted: {', '.join(shown[:5])}" + (f" (+{len(shown) - 5})" if len(shown) > 5 else "")
        )
    domain = record["domain_classifier"]
    if domain is not None and domain["drifted"]:
        reasons.append(f"domain classifier ROC-AUC {domain['auc']:.3f} [{domain['low']:.3f}, {domain['high']:.3f}]")
    if record["performance"] is not None:
        for name, compared in record["performance"]["metrics"].items():
            if compared["worse"]:
                reasons.append(f"{name} {compared['new']['value']:.4f} on new rows vs {compared['test']['value']:.4f} "
                               "on test")  # fmt: skip
    return reasons


def verdict_line(record: Mapping[str, Any]) -> str:
    """One line for a person or a scheduler's log: the verdict, then why, or what was checked."""
    rows = f"{record['rows']['new']} new rows vs {record['rows']['train']} train rows"
    if record["reasons"]:
        return f"drift: {rows}; " + "; ".join(record["reasons"])
    checked = []
    if record["features"] is not None:
        checked.append(f"{len(record['features']['columns'])} features")
    domain = record["domain_classifier"]
    if domain is not None:
        checked.append(f"domain classifier ROC-AUC {domain['auc']:.3f} [{domain['low']:.3f}, {domain['high']:.3f}]")
    if record["performance"] is not None:
        checked.append("metrics within test intervals")
    return f"no drift: {rows}; " + ", ".join(checked)


def drift_json(record: Mapping[str, Any]) -> str:
    """``record`` as JSON, NaN and infinities as ``null`` (JSON has neither)."""
    return json.dumps(_finite(record), indent=2) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def read_test_metrics(export: Path) -> dict[str, Any]:
    """The export's test intervals (``test_metrics.json``), or an empty mapping for an export without them."""
    path = export / TEST_METRICS
    return dict(json.loads(path.read_text()).get("metrics", {})) if path.is_file() else {}
