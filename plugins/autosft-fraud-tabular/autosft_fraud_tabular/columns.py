"""What each column of a table means: role checks, label encoding, features and their preprocessing.

Everything here works on one pandas frame and knows nothing of splits; :mod:`.prepare` decides which
rows go where and calls these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from autosft import ConfigError, DataError

__all__ = [
    "TableSpec",
    "build_transformer",
    "encode_target",
    "feature_columns",
    "feature_frame",
    "label_names",
    "require_columns",
    "require_labels",
]


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
    #: Group columns kept beside the features, never among them (``Splits.slices``).
    slices: tuple[str, ...] = ()
    val_fraction: float = 0.2
    test_fraction: float = 0.2


def require_columns(frame: pd.DataFrame, spec: TableSpec) -> None:
    roles: list[tuple[str, Sequence[str]]] = [
        ("target", [spec.target]),
        ("categorical", spec.categorical),
        ("numeric", spec.numeric),
        ("drop", spec.drop),
        ("segment_column", [spec.segment_column] if spec.segment_column else []),
        ("time_column", [spec.time_column] if spec.time_column else []),
        ("slice", spec.slices),
    ]
    present = {str(column) for column in frame.columns}
    for role, names in roles:
        missing = [name for name in names if name not in present]
        if missing:
            available = ", ".join(sorted(present))
            raise DataError(f"{role} column {missing[0]!r} is not in {spec.source}; available columns: {available}")


def label_names(series: pd.Series) -> pd.Series:
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


def require_labels(series: pd.Series, target: str, source: str) -> None:
    missing = int(series.isna().sum())
    if missing:
        raise DataError(f"target column {target!r} of {source} has no label in {missing} rows; fill or drop them")


def encode_target(series: pd.Series, spec: TableSpec, task: str) -> tuple[np.ndarray, tuple[str, ...], str | None]:
    """Class indices, class names, and (binary only) the positive class name."""
    require_labels(series, spec.target, spec.source)
    names = label_names(series)
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
    # np.array copies: pandas hands out read-only views, which torch.from_numpy warns about.
    return np.array(names.map(mapping), dtype=np.int64), class_names, positive


def _natural_order(values: np.ndarray) -> list[str]:
    """Class names sorted by value when the values compare (2 < 10), else as strings."""
    try:
        ordered = sorted(values.tolist())
    except TypeError:
        ordered = list(values)
    names = label_names(pd.Series(ordered, dtype=object)).tolist()
    return sorted(set(names)) if len(set(names)) != len(names) else names


def feature_columns(frame: pd.DataFrame, spec: TableSpec) -> tuple[list[str], list[str]]:
    excluded = {spec.target, spec.time_column, spec.segment_column, *spec.drop, *spec.slices}
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
        raise DataError(f"{spec.source} has no feature columns left after removing target, drop, time and segment")
    return categorical, numeric


def feature_frame(rows: pd.DataFrame, columns: tuple[list[str], list[str]], source: str) -> pd.DataFrame:
    """Feature columns converted to what the transformer expects: float numbers, object strings."""
    categorical, numeric = columns
    data: dict[str, Any] = {}
    for column in numeric:
        raw = rows[column]
        values = raw.astype(float) if pd.api.types.is_bool_dtype(raw.dtype) else pd.to_numeric(raw, errors="coerce")
        bad = values.isna() & raw.notna()
        if bad.any():
            example = raw[bad].iloc[0]
            raise DataError(
                f"numeric column {column!r} of {source} has non-numeric values (e.g. {example!r}); "
                "list it under categorical"
            )
        data[column] = values.to_numpy(dtype=np.float64)
        infinite = np.isinf(data[column])
        if infinite.any():  # a scaler would fail on it with a traceback; an empty cell is imputed instead
            raise DataError(
                f"numeric column {column!r} of {source} has {int(infinite.sum())} infinite value(s) "
                f"(first at row {rows.index[infinite][0]}); replace them or leave those cells empty"
            )
    for column in categorical:
        data[column] = label_names(rows[column]).to_numpy(dtype=object)
    return pd.DataFrame(data, index=rows.index)


def build_transformer(categorical: list[str], numeric: list[str]) -> ColumnTransformer:
    parts: list[tuple[str, Any, list[str]]] = []
    if numeric:
        imputer = SimpleImputer(strategy="median", keep_empty_features=True)
        parts.append(("num", make_pipeline(imputer, StandardScaler()), numeric))
    if categorical:
        imputer = SimpleImputer(strategy="most_frequent", keep_empty_features=True)
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float32)
        parts.append(("cat", make_pipeline(imputer, encoder), categorical))
    return ColumnTransformer(parts, sparse_threshold=0.0)
