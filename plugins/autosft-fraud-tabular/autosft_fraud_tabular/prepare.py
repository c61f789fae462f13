"""The shared path from a pandas table to checked, split and preprocessed :class:`Splits`.

Both ``tabular`` (a file) and ``synthetic_fraud`` (a generated table) go through
:func:`prepare_splits`, so label encoding, the split rules and preprocessing are one piece of code:
what the quickstart exercises is exactly what a user's CSV gets.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from autosft.components import DataSplit, Splits, TaskType
from autosft.errors import ConfigError, DataError

__all__ = ["SUPPORTED_TASKS", "TableSpec", "fingerprint", "prepare_splits"]

logger = logging.getLogger(__name__)

SUPPORTED_TASKS: tuple[str, ...] = ("binary", "multiclass")


@dataclass(frozen=True)
class TableSpec:
    """Which column plays which role, and how to split; ``source`` names the data in messages.

    ``categorical`` and ``numeric`` force a column's kind; every other feature column is inferred
    from its dtype (object, category, string and bool are categorical, numbers are numeric).
    """

    source: str
    target: str
    positive_label: str | int | None = None
    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    time_column: str | None = None
    segment_column: str | None = None
    target_segment: str | int | None = None
    val_fraction: float = 0.2
    test_fraction: float = 0.2


def fingerprint(*parts: str) -> str:
    """The first 16 hex characters of a sha256 over ``parts``; keys every downstream cache."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")  # a separator, so ("ab", "c") and ("a", "bc") differ
    return digest.hexdigest()[:16]


def prepare_splits(
    frame: pd.DataFrame,
    spec: TableSpec,
    *,
    task: TaskType,
    seed: int,
    data_fingerprint: str,
    pretrain_frame: pd.DataFrame | None = None,
    pretrain_source: str | None = None,
) -> Splits:
    """Check ``frame`` against ``spec``, split it, fit preprocessing on train (+ pretrain) rows.

    The pretrain population is the rows of other segments (``spec.segment_column``) or
    ``pretrain_frame``; it never holds a row of the target's validation or test split. With a time
    column, pretrain rows newer than the newest train row are left out too, so neither
    pre-training nor preprocessing sees the period the model is judged on.
    """
    if task not in SUPPORTED_TASKS:
        raise ConfigError(f"tabular data supports task {' or '.join(SUPPORTED_TASKS)}, but got {task!r}")
    if frame.empty:
        raise DataError(f"{spec.source} has no rows")
    _require_columns(frame, spec)
    target_frame, other = _select_population(frame, spec)
    target_frame = target_frame.reset_index(drop=True)
    labels, class_names, positive = _encode_target(target_frame[spec.target], spec, task)
    categorical, numeric = _feature_columns(frame, spec)
    other_source = spec.source
    if pretrain_frame is not None:
        other, other_source = pretrain_frame, pretrain_source or "the pretrain data"
        needed = [spec.target, *categorical, *numeric]
        missing = [column for column in needed if column not in set(map(str, other.columns))]
        if missing:
            raise DataError(
                f"{other_source} lacks column {missing[0]!r} of {spec.source} ({len(missing)} missing)"
            )

    if spec.time_column is not None:
        times = _parse_times(target_frame[spec.time_column], spec.time_column, spec.source)
        train_idx, val_idx, test_idx = _time_split(times, spec)
    else:
        train_idx, val_idx, test_idx = _stratified_split(labels, class_names, spec, seed)
    indices = {"train": train_idx, "val": val_idx, "test": test_idx}
    for split_name, rows in indices.items():
        _require_every_class(labels[rows], class_names, split_name, spec)

    pretrain_rows, pretrain_labels, dropped = None, None, 0
    if other is not None and len(other):
        if spec.time_column is not None and spec.time_column in other.columns:
            other_times = _parse_times(other[spec.time_column], spec.time_column, other_source)
            newest_train = times.iloc[train_idx].max()
            dropped += int((other_times > newest_train).sum())
            other = other.loc[(other_times <= newest_train).to_numpy()]
        _check_labels_present(other[spec.target], spec.target, other_source)
        mapping = {name: index for index, name in enumerate(class_names)}
        encoded = _label_names(other[spec.target]).map(mapping)
        known = encoded.notna().to_numpy()
        dropped += int((~known).sum())  # source rows whose label the target task does not have
        pretrain_rows = other.loc[known]
        pretrain_labels = encoded[known].to_numpy(dtype=np.int64)

    columns = (categorical, numeric)
    train_features = _features(target_frame.iloc[train_idx], columns, spec.source)
    fit_frame = train_features
    if pretrain_rows is not None and len(pretrain_rows):
        pretrain_features = _features(pretrain_rows, columns, other_source)
        fit_frame = pd.concat([train_features, pretrain_features], ignore_index=True)
    transformer = _build_transformer(categorical, numeric)
    transformer.fit(fit_frame)

    def transform(rows: pd.DataFrame, source: str) -> np.ndarray:
        return np.asarray(transformer.transform(_features(rows, columns, source)), dtype=np.float32)

    splits = {
        name: DataSplit(transform(target_frame.iloc[rows], spec.source), labels[rows])
        for name, rows in indices.items()
    }
    pretrain = None
    if pretrain_rows is not None and len(pretrain_rows):
        assert pretrain_labels is not None
        pretrain = DataSplit(transform(pretrain_rows, other_source), pretrain_labels)
    elif spec.segment_column is not None or pretrain_frame is not None:
        logger.warning("%s: the pretrain population is empty; models start from random weights", spec.source)

    info = _info(splits, pretrain, class_names, positive, transformer, columns, spec, seed, dropped)
    return Splits(
        train=splits["train"],
        val=splits["val"],
        test=splits["test"],
        task=task,
        class_names=class_names,
        input_kind="tabular",
        fingerprint=data_fingerprint,
        pretrain=pretrain,
        info=info,
    )


# --------------------------------------------------------------------------------------------
# Columns and labels
# --------------------------------------------------------------------------------------------


def _require_columns(frame: pd.DataFrame, spec: TableSpec) -> None:
    roles: list[tuple[str, Sequence[str]]] = [
        ("target", [spec.target]),
        ("categorical", spec.categorical),
        ("numeric", spec.numeric),
        ("drop", spec.drop),
        ("segment_column", [spec.segment_column] if spec.segment_column else []),
        ("time_column", [spec.time_column] if spec.time_column else []),
    ]
    present = {str(column) for column in frame.columns}
    for role, names in roles:
        missing = [name for name in names if name not in present]
        if missing:
            available = ", ".join(sorted(present))
            raise DataError(
                f"{role} column {missing[0]!r} is not in {spec.source}; available columns: {available}"
            )


def _select_population(frame: pd.DataFrame, spec: TableSpec) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Split rows into the fine-tuning population and the source (pretrain) population."""
    if spec.segment_column is None:
        return frame, None
    segments = _label_names(frame[spec.segment_column])
    mask = (segments == str(spec.target_segment)).to_numpy()
    if not mask.any():
        available = ", ".join(sorted(segments.dropna().unique().tolist())[:20])
        raise DataError(
            f"target_segment {str(spec.target_segment)!r} has no rows in column {spec.segment_column!r} "
            f"of {spec.source}; available segments: {available}"
        )
    return frame.loc[mask], frame.loc[~mask]


def _label_names(series: pd.Series) -> pd.Series:
    """Labels as strings, with integral floats written as ints (a 0/1 column with NaNs reads as float)."""

    def name(value: Any) -> Any:
        if pd.isna(value):
            return np.nan
        if isinstance(value, (bool, np.bool_)):
            return str(bool(value))
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return str(int(value))
        return str(value)

    return series.map(name).astype(object)


def _check_labels_present(series: pd.Series, target: str, source: str) -> None:
    missing = int(series.isna().sum())
    if missing:
        raise DataError(
            f"target column {target!r} of {source} has no label in {missing} rows; fill or drop them"
        )


def _encode_target(
    series: pd.Series, spec: TableSpec, task: str
) -> tuple[np.ndarray, tuple[str, ...], str | None]:
    """Class indices, class names, and (binary only) the positive class name."""
    _check_labels_present(series, spec.target, spec.source)
    names = _label_names(series)
    counts = names.value_counts()
    if len(counts) < 2:
        raise DataError(
            f"target column {spec.target!r} of {spec.source} has only one class ({counts.index[0]!r}); "
            "a classifier needs at least two"
        )
    positive: str | None = None
    class_names: tuple[str, ...]
    if task == "binary":
        if len(counts) > 2:
            shown = ", ".join(sorted(counts.index)[:10])
            raise DataError(
                f"task binary needs 2 label values, but target {spec.target!r} of {spec.source} has "
                f"{len(counts)}: {shown}; use task: multiclass"
            )
        values = sorted(counts.index)
        if spec.positive_label is not None:
            positive = str(spec.positive_label)
            if positive not in values:
                raise DataError(
                    f"positive_label {positive!r} is not a value of target {spec.target!r} of {spec.source}; "
                    f"values: {', '.join(values)}"
                )
        elif set(values) in ({"0", "1"}, {"False", "True"}):
            positive = values[1]
        else:
            # The minority class is what fraud/default/churn labels mean by "positive"; ties go last.
            positive = min(values, key=lambda value: (counts[value], -values.index(value)))
        class_names = (next(value for value in values if value != positive), positive)
    else:
        if spec.positive_label is not None:
            raise ConfigError(f"positive_label applies only to task binary, but the task is {task!r}")
        class_names = tuple(_natural_order(series.dropna().unique()))
    mapping = {name: index for index, name in enumerate(class_names)}
    return names.map(mapping).to_numpy(dtype=np.int64), class_names, positive


def _natural_order(values: np.ndarray) -> list[str]:
    """Class names sorted by value when the values compare (2 < 10), else as strings."""
    try:
        ordered = sorted(values.tolist())
    except TypeError:
        ordered = list(values)
    names = _label_names(pd.Series(ordered, dtype=object)).tolist()
    return sorted(set(names)) if len(set(names)) != len(names) else names


def _feature_columns(frame: pd.DataFrame, spec: TableSpec) -> tuple[list[str], list[str]]:
    excluded = {spec.target, spec.time_column, spec.segment_column, *spec.drop}
    categorical, numeric = list(spec.categorical), list(spec.numeric)
    for column in map(str, frame.columns):
        if column in excluded or column in categorical or column in numeric:
            continue
        dtype = frame[column].dtype
        if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
            if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
                raise DataError(
                    f"column {column!r} of {spec.source} has dtype {dtype}, neither numeric nor categorical; "
                    "list it under drop, time_column or categorical"
                )
            categorical.append(column)
        else:
            # Numbers stay numeric even with few distinct values (counts, ratings): order means something.
            numeric.append(column)
    if not categorical and not numeric:
        raise DataError(
            f"{spec.source} has no feature columns left after removing target, drop, time and segment"
        )
    return categorical, numeric


def _features(rows: pd.DataFrame, columns: tuple[list[str], list[str]], source: str) -> pd.DataFrame:
    """Feature columns converted to what the transformer expects: float numbers, object strings."""
    categorical, numeric = columns
    data: dict[str, Any] = {}
    for column in numeric:
        raw = rows[column]
        values = (
            raw.astype(float)
            if pd.api.types.is_bool_dtype(raw.dtype)
            else pd.to_numeric(raw, errors="coerce")
        )
        bad = values.isna() & raw.notna()
        if bad.any():
            example = raw[bad].iloc[0]
            raise DataError(
                f"numeric column {column!r} of {source} has non-numeric values (e.g. {example!r}); "
                "list it under categorical"
            )
        data[column] = values.to_numpy(dtype=np.float64)
    for column in categorical:
        data[column] = _label_names(rows[column]).to_numpy(dtype=object)
    return pd.DataFrame(data, index=rows.index)


def _build_transformer(categorical: list[str], numeric: list[str]) -> ColumnTransformer:
    parts: list[tuple[str, Any, list[str]]] = []
    if numeric:
        imputer = SimpleImputer(strategy="median", keep_empty_features=True)
        parts.append(("num", make_pipeline(imputer, StandardScaler()), numeric))
    if categorical:
        imputer = SimpleImputer(strategy="most_frequent", keep_empty_features=True)
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float32)
        parts.append(("cat", make_pipeline(imputer, encoder), categorical))
    return ColumnTransformer(parts, sparse_threshold=0.0)


# --------------------------------------------------------------------------------------------
# Splitting
# --------------------------------------------------------------------------------------------


def _parse_times(series: pd.Series, column: str, source: str) -> pd.Series:
    """Numbers (epoch seconds, day indices) order as they are; anything else must parse as dates."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        times = series.astype(float)
    elif pd.api.types.is_datetime64_any_dtype(series.dtype):
        times = series
    else:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", UserWarning
            )  # "could not infer format": we report failures ourselves
            times = pd.to_datetime(series, errors="coerce")
    bad = times.isna()
    if bad.any():
        examples = series[bad & series.notna()]
        example = repr(examples.iloc[0]) if len(examples) else "missing"
        raise DataError(
            f"time_column {column!r} of {source} has {int(bad.sum())} values that are missing or not dates "
            f"(e.g. {example})"
        )
    return times.reset_index(drop=True)


def _time_split(times: pd.Series, spec: TableSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(times.to_numpy(), kind="stable")
    rows = len(order)
    n_test = max(1, round(rows * spec.test_fraction))
    n_val = max(1, round(rows * spec.val_fraction))
    n_train = rows - n_val - n_test
    if n_train < 1:
        raise DataError(f"{spec.source} has {rows} rows, too few for a train, val and test split")
    return order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]


def _stratified_split(
    labels: np.ndarray, class_names: tuple[str, ...], spec: TableSpec, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = np.arange(len(labels))
    try:
        rest, test = train_test_split(rows, test_size=spec.test_fraction, stratify=labels, random_state=seed)
        val_share = spec.val_fraction / (1.0 - spec.test_fraction)
        train, val = train_test_split(rest, test_size=val_share, stratify=labels[rest], random_state=seed)
    except ValueError:
        counts = dict(zip(class_names, np.bincount(labels, minlength=len(class_names)).tolist(), strict=True))
        raise DataError(
            f"{spec.source} is too small to give every split a row of every class: class counts {counts}, "
            f"val_fraction={spec.val_fraction}, test_fraction={spec.test_fraction}"
        ) from None
    return np.sort(train), np.sort(val), np.sort(test)


def _require_every_class(
    labels: np.ndarray, class_names: tuple[str, ...], split: str, spec: TableSpec
) -> None:
    counts = np.bincount(labels, minlength=len(class_names))
    absent = [name for name, count in zip(class_names, counts, strict=True) if count == 0]
    if absent:
        raise DataError(
            f"the {split} split of {spec.source} ({len(labels)} rows) has no row of class {absent[0]!r}; "
            "every split needs every class: use more data or other val_fraction/test_fraction"
        )


def _info(
    splits: dict[str, DataSplit],
    pretrain: DataSplit | None,
    class_names: tuple[str, ...],
    positive: str | None,
    transformer: ColumnTransformer,
    columns: tuple[list[str], list[str]],
    spec: TableSpec,
    seed: int,
    pretrain_rows_dropped: int,
) -> dict[str, Any]:
    """Plain JSON-ready facts for run cards and ``check-data``."""
    everything = dict(splits) | ({"pretrain": pretrain} if pretrain is not None else {})

    def counts(split: DataSplit) -> dict[str, int]:
        per_class = np.bincount(split.labels, minlength=len(class_names)).tolist()
        return dict(zip(class_names, per_class, strict=True))

    target_labels = np.concatenate([split.labels for split in splits.values()])
    return {
        "source": spec.source,
        "split": "time" if spec.time_column else "stratified",
        "split_seed": seed,
        "rows": {name: len(split) for name, split in everything.items()},
        "class_counts": {name: counts(split) for name, split in everything.items()},
        "positive_label": positive,
        "positive_rate": float(np.mean(target_labels == 1)) if positive is not None else None,
        "categorical_columns": list(columns[0]),
        "numeric_columns": list(columns[1]),
        "feature_names": [str(name) for name in transformer.get_feature_names_out()],
        "pretrain_rows_dropped": pretrain_rows_dropped,
    }
