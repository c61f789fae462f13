"""The shared path from a pandas table to checked, split and preprocessed :class:`Splits`.

Both ``tabular`` (a file) and ``synthetic_fraud`` (a generated table) go through
:func:`prepare_splits`, so label encoding, the split rules and preprocessing are one piece of code:
what the quickstart exercises is exactly what a user's CSV gets.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split

from autosft import ConfigError, DataError, DataSplit, NewRows, Splits, TaskType, parse_times
from autosft_fraud_tabular.columns import (
    TableSpec,
    build_transformer,
    encode_target,
    feature_columns,
    feature_frame,
    label_names,
    require_columns,
    require_labels,
)

__all__ = ["SUPPORTED_TASKS", "TableSpec", "fingerprint", "prepare_new_rows", "prepare_splits"]

logger = logging.getLogger(__name__)

SUPPORTED_TASKS: tuple[str, ...] = ("binary", "multiclass")

Columns = tuple[list[str], list[str]]


def fingerprint(*parts: str) -> str:
    """The first 16 hex characters of a sha256 over ``parts``; keys every downstream cache."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")  # a separator, so ("ab", "c") and ("a", "bc") differ
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class _Fitted:
    """A table's rows assigned to splits and its preprocessing fitted on the train (+ pretrain) rows."""

    target_frame: pd.DataFrame
    labels: np.ndarray
    class_names: tuple[str, ...]
    positive: str | None
    columns: Columns
    indices: dict[str, np.ndarray]
    source_rows: pd.DataFrame
    source_labels: np.ndarray
    other_source: str
    dropped: int
    transformer: ColumnTransformer

    def transform(self, rows: pd.DataFrame, source: str) -> np.ndarray:
        return np.asarray(self.transformer.transform(feature_frame(rows, self.columns, source)), dtype=np.float32)


def _fit(
    frame: pd.DataFrame,
    spec: TableSpec,
    *,
    task: TaskType,
    seed: int,
    pretrain_frame: pd.DataFrame | None,
    pretrain_source: str | None,
) -> _Fitted:
    """Check ``frame`` against ``spec``, split it, fit preprocessing on train (+ pretrain) rows."""
    if task not in SUPPORTED_TASKS:
        raise ConfigError(f"tabular data supports task {' or '.join(SUPPORTED_TASKS)}, but got {task!r}")
    if frame.empty:
        raise DataError(f"{spec.source} has no rows")
    require_columns(frame, spec)
    target_frame, other = _select_population(frame, spec)
    target_frame = target_frame.reset_index(drop=True)
    labels, class_names, positive = encode_target(target_frame[spec.target], spec, task)
    columns = feature_columns(frame, spec)
    other_source = spec.source
    if pretrain_frame is not None:
        other, other_source = pretrain_frame, pretrain_source or "the pretrain data"
        _require_pretrain_columns(other, [spec.target, *columns[0], *columns[1]], other_source, spec.source)

    indices, newest_train = _split_rows(target_frame, labels, class_names, spec, seed)
    source_rows, source_labels, dropped = _source_population(other, other_source, spec, class_names, newest_train)
    fit_rows = [(target_frame.iloc[indices["train"]], spec.source), (source_rows, other_source)]
    transformer = build_transformer(*columns)
    transformer.fit(pd.concat([feature_frame(rows, columns, source) for rows, source in fit_rows if len(rows)]))
    return _Fitted(target_frame, labels, class_names, positive, columns, indices, source_rows, source_labels,
                   other_source, dropped, transformer)  # fmt: skip


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
    fitted = _fit(frame, spec, task=task, seed=seed, pretrain_frame=pretrain_frame, pretrain_source=pretrain_source)
    target_frame = fitted.target_frame
    splits = {
        name: DataSplit(fitted.transform(target_frame.iloc[rows], spec.source), fitted.labels[rows])
        for name, rows in fitted.indices.items()
    }
    source_rows = fitted.source_rows
    pretrain = (DataSplit(fitted.transform(source_rows, fitted.other_source), fitted.source_labels)
                if len(source_rows) else None)  # fmt: skip
    if pretrain is None and (spec.segment_column is not None or pretrain_frame is not None):
        logger.warning("%s: the pretrain population is empty; models start from random weights", spec.source)
    info = _info(splits, pretrain, fitted.class_names, fitted.positive, fitted.transformer, fitted.columns, spec, seed,
                 fitted.dropped)  # fmt: skip
    return Splits(
        train=splits["train"],
        val=splits["val"],
        test=splits["test"],
        task=task,
        class_names=fitted.class_names,
        input_kind="tabular",
        fingerprint=data_fingerprint,
        pretrain=pretrain,
        info=info,
        slices={name: _slice_values(target_frame.iloc[rows], spec) for name, rows in fitted.indices.items()},
    )


def _slice_values(rows: pd.DataFrame, spec: TableSpec) -> dict[str, np.ndarray]:
    """Each slice column's values on ``rows`` as strings, an empty cell as ``"(missing)"``: a slice of its own."""
    return {column: label_names(rows[column]).fillna("(missing)").to_numpy(dtype=str) for column in spec.slices}


def prepare_new_rows(
    frame: pd.DataFrame,
    new_frame: pd.DataFrame,
    spec: TableSpec,
    new_source: str,
    *,
    task: TaskType,
    seed: int,
    pretrain_frame: pd.DataFrame | None = None,
    pretrain_source: str | None = None,
) -> NewRows:
    """Every row of ``new_frame`` through the preprocessing :func:`prepare_splits` fits on ``frame``.

    Labels are read when ``new_frame`` has the target column, as indices of ``frame``'s classes;
    a label the study never saw is a :class:`DataError`.
    """
    fitted = _fit(frame, spec, task=task, seed=seed, pretrain_frame=pretrain_frame, pretrain_source=pretrain_source)
    categorical, numeric = fitted.columns
    present = set(map(str, new_frame.columns))
    missing = [column for column in [*categorical, *numeric] if column not in present]
    if missing:
        raise DataError(
            f"{new_source} lacks feature column {missing[0]!r} of {spec.source} ({len(missing)} missing); "
            f"the model needs every column it was trained on"
        )
    if new_frame.empty:
        raise DataError(f"{new_source} has no rows")
    new_frame = new_frame.reset_index(drop=True)
    inputs = fitted.transform(new_frame, new_source)
    features = _columns_of(feature_frame(new_frame, fitted.columns, new_source))
    train_features = _columns_of(feature_frame(fitted.target_frame.iloc[fitted.indices["train"]], fitted.columns,
                                               spec.source))  # fmt: skip
    if spec.target not in present:
        return NewRows(inputs, None, features, train_features)
    require_labels(new_frame[spec.target], spec.target, new_source)
    names = label_names(new_frame[spec.target])
    unknown = sorted(set(names) - set(fitted.class_names))
    if unknown:
        raise DataError(
            f"target column {spec.target!r} of {new_source} holds label {unknown[0]!r}, which the study's data never "
            f"has; its labels: {', '.join(fitted.class_names)}"
        )
    index = {name: position for position, name in enumerate(fitted.class_names)}
    return NewRows(inputs, np.array(names.map(index), dtype=np.int64), features, train_features)


def _columns_of(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {str(column): frame[column].to_numpy() for column in frame.columns}


# --------------------------------------------------------------------------------------------
# Populations and splitting
# --------------------------------------------------------------------------------------------


def _select_population(frame: pd.DataFrame, spec: TableSpec) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Split rows into the fine-tuning population and the source (pretrain) population."""
    if spec.segment_column is None:
        return frame, None
    segments = label_names(frame[spec.segment_column])
    mask = (segments == str(spec.target_segment)).to_numpy()
    if not mask.any():
        available = ", ".join(sorted(segments.dropna().unique().tolist())[:20])
        raise DataError(
            f"target_segment {str(spec.target_segment)!r} has no rows in column {spec.segment_column!r} "
            f"of {spec.source}; available segments: {available}"
        )
    return frame.loc[mask], frame.loc[~mask]


def _require_pretrain_columns(other: pd.DataFrame, needed: list[str], source: str, target_source: str) -> None:
    present = set(map(str, other.columns))
    missing = [column for column in needed if column not in present]
    if missing:
        raise DataError(f"{source} lacks column {missing[0]!r} of {target_source} ({len(missing)} missing)")


def _source_population(
    other: pd.DataFrame | None,
    source: str,
    spec: TableSpec,
    class_names: tuple[str, ...],
    newest_train: Any,
) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Pretrain rows, their class indices, and how many source rows were left out.

    Left out are rows newer than the newest target train row (with a time column) and rows whose
    label the target task does not have: pre-training on a class the head never predicts only
    blurs the backbone.
    """
    if other is None or not len(other):
        return pd.DataFrame(), np.zeros(0, dtype=np.int64), 0
    dropped = 0
    if newest_train is not None and spec.time_column is not None and spec.time_column in other.columns:
        times = parse_times(other[spec.time_column], spec.time_column, source).reset_index(drop=True)
        dropped += int((times > newest_train).sum())
        other = other.loc[(times <= newest_train).to_numpy()]
    require_labels(other[spec.target], spec.target, source)
    encoded = label_names(other[spec.target]).map({name: index for index, name in enumerate(class_names)})
    known = encoded.notna().to_numpy()
    dropped += int((~known).sum())
    return other.loc[known], np.array(encoded[known], dtype=np.int64), dropped


def _split_rows(
    target_frame: pd.DataFrame, labels: np.ndarray, class_names: tuple[str, ...], spec: TableSpec, seed: int
) -> tuple[dict[str, np.ndarray], Any]:
    """Train, validation and test row indices, each holding every class: by time when the spec has a
    time column, else stratified; and the newest train time (``None`` without a time column), past
    which no pretrain row may lie."""
    newest_train = None
    if spec.time_column is not None:
        times = parse_times(target_frame[spec.time_column], spec.time_column, spec.source).reset_index(drop=True)
        train_idx, val_idx, test_idx = _time_split(times, spec)
        newest_train = times.iloc[train_idx].max()
    else:
        train_idx, val_idx, test_idx = _stratified_split(labels, class_names, spec, seed)
    indices = {"train": train_idx, "val": val_idx, "test": test_idx}
    for split_name, rows in indices.items():
        _require_every_class(labels[rows], class_names, split_name, spec)
    return indices, newest_train


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


def _require_every_class(labels: np.ndarray, class_names: tuple[str, ...], split: str, spec: TableSpec) -> None:
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
    columns: Columns,
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
