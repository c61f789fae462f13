"""The ``text_table`` loader: texts and labels from a CSV, JSONL or Parquet table, split by document.

Inputs stay raw strings (input kind ``text``); the model's tokenizer turns them into token ids once
per study (see ``hf_text_classifier``), so one loaded table serves any encoder and max length.
Every way a table can be unusable (a missing column, an empty text, numbers where text belongs, a
label the training split never shows) is a :class:`DataError` naming the column, the value and the
first row concerned.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel

from autosft.components import DatasetLoader, DataSplit, LoaderExample, NewRows, Splits, TaskType
from autosft.default_plugins.text.options import TextTableOptions
from autosft.default_plugins.text.splitting import stratum, subsample
from autosft.errors import ConfigError, DataError
from autosft.splitting import SPLIT_NAMES, check_groups, hold_out_missing

__all__ = ["TextTable", "read_table"]

logger = logging.getLogger(__name__)

_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}


def read_table(path: Path, format: str) -> pd.DataFrame:
    """The table at ``path`` as read by pandas; a missing or unparsable file is one :class:`DataError`."""
    if format == "auto":
        format = _SUFFIXES.get(path.suffix.lower(), "")
        if not format:
            raise ConfigError(
                f"text_table cannot tell the format of {path.name!r} from its suffix; set format to csv, jsonl or "
                f"parquet (known suffixes: {', '.join(_SUFFIXES)})"
            )
    if not path.is_file():
        raise DataError(f"text_table: file {str(path)!r} does not exist")
    try:
        if format == "csv":
            # Only an empty field is missing: "NA" or "null" in a legal text is text.
            return pd.read_csv(path, keep_default_na=False, na_values=[""])
        if format == "jsonl":
            return pd.read_json(path, lines=True, dtype=False)
        return pd.read_parquet(path)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise DataError(f"text_table: cannot read {path.name!r} as {format}: {str(error).splitlines()[0]}") from None


def _require(frame: pd.DataFrame, names: Iterable[str | None], source: str) -> None:
    for name in names:
        if name is not None and name not in frame.columns:
            raise DataError(f"{source}: no column {name!r}; columns: {', '.join(map(str, frame.columns))}")


def _texts(frame: pd.DataFrame, options: TextTableOptions, source: str) -> np.ndarray:
    """Each row's text columns joined; numbers in a text column or an empty text are errors."""
    parts = []
    for name in options.text_columns:
        column = frame[name]
        if column.isna().all():  # read as floats when every value is missing: empty, not numbers
            column = column.astype(object)
        elif pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            raise DataError(
                f"{source}: text column {name!r} holds numbers ({column.dtype}); text_columns must name columns of text"
            )
        odd = column[column.notna() & ~column.map(lambda value: isinstance(value, str))]
        if len(odd):
            raise DataError(
                f"{source}: text column {name!r} holds a {type(odd.iloc[0]).__name__} in row {odd.index[0]}, not text"
            )
        parts.append(column.fillna("").str.strip())
    joined = parts[0] if len(parts) == 1 else pd.concat(parts, axis=1).apply(_join(options.text_separator), axis=1)
    empty = np.flatnonzero(joined.str.len().to_numpy() == 0)
    if len(empty):
        raise DataError(
            f"{source}: {len(empty)} row(s) have an empty text in {options.text_columns} (first: row {empty[0]}); "
            "drop them or fill them in"
        )
    return joined.to_numpy(dtype=object)


def _join(separator: str) -> Any:
    def join(row: pd.Series) -> str:
        return separator.join(value for value in row if value)

    return join


def _label_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _ordered(seen: Iterable[str]) -> list[str]:
    values = sorted(set(seen))
    if all(value.lstrip("-").isdigit() for value in values):
        values.sort(key=int)
    return values


def _check_declared(seen: Iterable[str], classes: list[str], source: str) -> None:
    unknown = sorted(set(seen) - set(classes))
    if unknown:
        raise DataError(f"{source}: labels {unknown[:5]} are not in class_names {classes}")


def _single_labels(
    frame: pd.DataFrame, options: TextTableOptions, task: TaskType, source: str
) -> tuple[np.ndarray, list[str]]:
    if len(options.label_columns) != 1:
        raise ConfigError(f"task {task} takes one label column, but label_columns is {options.label_columns}")
    column = frame[options.label_columns[0]]
    missing = np.flatnonzero(column.isna().to_numpy())
    if len(missing):
        raise DataError(
            f"{source}: {len(missing)} row(s) have no label in {options.label_columns[0]!r} (first: row {missing[0]})"
        )
    values = column.map(_label_text).to_numpy(dtype=object)
    classes = list(options.class_names) if options.class_names else _ordered(values)
    _check_declared(values, classes, source)
    if task == "binary":
        if len(classes) != 2:
            raise DataError(f"{source}: a binary task needs exactly two classes, but the labels are {classes[:10]}")
        if options.positive_class is not None:
            if options.positive_class not in classes:
                raise ConfigError(f"positive_class {options.positive_class!r} is not one of the classes {classes}")
            classes = [name for name in classes if name != options.positive_class] + [options.positive_class]
    elif len(classes) < 2:
        raise DataError(f"{source}: a {task} task needs at least two classes, but every label is {classes}")
    index = {name: position for position, name in enumerate(classes)}
    return np.array([index[value] for value in values], dtype=np.int64), classes


def _multilabel(frame: pd.DataFrame, options: TextTableOptions, source: str) -> tuple[np.ndarray, list[str]]:
    if len(options.label_columns) > 1:  # one 0/1 column per class
        block = frame[options.label_columns]
        if not all(pd.api.types.is_numeric_dtype(block[name]) or pd.api.types.is_bool_dtype(block[name])
                   for name in block.columns) or not block.isin([0, 1, True, False]).all().all():  # fmt: skip
            raise DataError(f"{source}: label columns {options.label_columns} must hold only 0/1, one column per class")
        classes = list(options.label_columns)
        labels = block.to_numpy(dtype=np.int64)
    else:
        separator = options.label_separator
        sets = [_label_set(value, separator) for value in frame[options.label_columns[0]]]
        classes = list(options.class_names) if options.class_names else _ordered(label for s in sets for label in s)
        _check_declared((label for s in sets for label in s), classes, source)
        index = {name: position for position, name in enumerate(classes)}
        labels = np.zeros((len(sets), len(classes)), dtype=np.int64)
        for row, names in enumerate(sets):
            labels[row, [index[name] for name in names]] = 1
    empty = np.flatnonzero(labels.sum(axis=1) == 0)
    if len(empty) and options.empty_labels == "error":
        raise DataError(
            f"{source}: {len(empty)} row(s) have no label (first: row {empty[0]}); set empty_labels: keep to keep "
            "them as rows of no class"
        )
    if len(empty):
        logger.info("text_table: %d of %d rows have no label and are kept as rows of no class", len(empty), len(labels))
    if len(classes) < 2:
        raise DataError(f"{source}: a multilabel task needs at least two classes, but found {classes}")
    return labels, classes


def _label_set(value: Any, separator: str) -> list[str]:
    if isinstance(value, str):
        return sorted({part.strip() for part in value.split(separator) if part.strip()})
    if isinstance(value, (list, tuple, np.ndarray)):
        return sorted({_label_text(item).strip() for item in value if _label_text(item).strip()})
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return [_label_text(value)]


def _check_seen_in_train(labels: np.ndarray, parts: dict[str, np.ndarray], classes: list[str], source: str) -> None:
    """A class the training split never shows cannot be learned, and scoring it says nothing."""
    if labels.ndim == 2:
        absent = np.flatnonzero(labels[parts["train"]].sum(axis=0) == 0)
        if len(absent):
            raise DataError(f"{source}: class {classes[absent[0]]!r} has no row in the train split")
        return
    in_train = set(labels[parts["train"]].tolist())
    for part in ("val", "test"):
        unseen = sorted(set(labels[parts[part]].tolist()) - in_train)
        if unseen:
            raise DataError(f"{source}: label {classes[unseen[0]]!r} appears in the {part} split but never in train")
    if len(in_train) < 2:
        raise DataError(f"{source}: the train split holds only class {classes[next(iter(in_train))]!r}")


class TextTable(DatasetLoader):
    """Reads, checks and splits a table of texts (see the module docstring)."""

    name: ClassVar[str] = "text_table"
    description: ClassVar[str] = "Texts and labels from CSV/JSONL/Parquet; split column or stratified, by group"
    Options: ClassVar[type[BaseModel]] = TextTableOptions

    def example(self, folder: Path) -> LoaderExample:
        """Forty short texts of two classes in a CSV, for `autosft plugins --check`."""
        words = {"paid": ("payment", "received", "in", "full"), "late": ("payment", "overdue", "final", "notice")}
        rows = [(" ".join(words[label][index % 4 :] + words[label][: index % 4]), label)
                for index in range(20) for label in words]  # fmt: skip
        path = folder / "texts.csv"
        pd.DataFrame(rows, columns=["text", "label"]).to_csv(path, index=False)
        return LoaderExample("binary", {"path": str(path)})

    def load(self, options: BaseModel, *, task: TaskType, seed: int) -> Splits:
        assert isinstance(options, TextTableOptions)
        source = f"text_table {options.path.name}"
        frame = read_table(options.path, options.format).reset_index(drop=True)
        _require(frame, [*options.text_columns, *options.label_columns, options.split_column,
                         options.group_column, *options.slice_columns], source)  # fmt: skip
        if frame.empty:
            raise DataError(f"{source}: the table has no rows")
        texts = _texts(frame, options, source)
        if task == "multilabel":
            labels, classes = _multilabel(frame, options, source)
        else:
            labels, classes = _single_labels(frame, options, task, source)
        groups = None if options.group_column is None else frame[options.group_column].map(str).to_numpy(dtype=object)
        split_seed = seed if options.split_seed is None else options.split_seed
        parts = self._parts(frame, options, labels, groups, split_seed, source)
        repeated = _drop_repeated_texts(texts, parts) if options.drop_repeated_texts else {}
        _check_seen_in_train(labels, parts, classes, source)
        splits = {name: DataSplit(texts[rows], labels[rows], None if groups is None else groups[rows])
                  for name, rows in parts.items()}  # fmt: skip
        info = {
            "rows": {name: len(rows) for name, rows in parts.items()},
            "class_counts": {name: _counts(labels[rows], classes) for name, rows in parts.items()},
        }
        if repeated:
            info["dropped_repeated_texts"] = repeated
        if groups is not None:
            info["groups"] = {name: len(set(groups[rows].tolist())) for name, rows in parts.items()}
        slices = {name: {column: frame[column].map(_slice_name).to_numpy(dtype=str)[rows]
                         for column in options.slice_columns} for name, rows in parts.items()}  # fmt: skip
        return Splits(splits["train"], splits["val"], splits["test"], task, tuple(classes), "text",
                      _fingerprint(options, task, split_seed), info=info, slices=slices)  # fmt: skip

    def load_new(self, options: BaseModel, path: Path, *, task: TaskType, seed: int) -> NewRows:
        """Every row's text of ``path`` (no split, subsample or dropped repeat), and its labels when the
        file has the label columns, as indices of the study's classes."""
        assert isinstance(options, TextTableOptions)
        source = f"text_table {path.name}"
        frame = read_table(path, options.format).reset_index(drop=True)
        _require(frame, options.text_columns, source)
        if frame.empty:
            raise DataError(f"{source}: the table has no rows")
        texts = _texts(frame, options, source)
        if not all(name in frame.columns for name in options.label_columns):
            return NewRows(texts)
        classes = list(self.load(options, task=task, seed=seed).class_names)
        known = options.model_copy(update={"class_names": classes})
        if task == "multilabel":
            return NewRows(texts, _multilabel(frame, known, source)[0])
        return NewRows(texts, _single_labels(frame, known, task, source)[0])

    def _parts(
        self,
        frame: pd.DataFrame,
        options: TextTableOptions,
        labels: np.ndarray,
        groups: np.ndarray | None,
        seed: int,
        source: str,
    ) -> dict[str, np.ndarray]:
        strata = stratum(labels)
        if options.split_column is None:
            parts = {"train": np.arange(len(frame))}
        else:
            named = frame[options.split_column].map(lambda value: SPLIT_NAMES.get(str(value).strip().lower()))
            unknown = frame[options.split_column][named.isna()]
            if len(unknown):
                raise DataError(
                    f"{source}: split column {options.split_column!r} holds {str(unknown.iloc[0])!r} (row "
                    f"{unknown.index[0]}); valid values: {', '.join(SPLIT_NAMES)}"
                )
            split_of_row = named.to_numpy(dtype=object)
            if groups is not None:
                check_groups(groups, split_of_row, source)
            parts = {name: np.flatnonzero(split_of_row == name) for name in ("train", "val", "test")}
            parts = {name: rows for name, rows in parts.items() if len(rows)}
            if "train" not in parts:
                raise DataError(f"{source}: split column {options.split_column!r} names no train row")
        missing = [name for name in ("val", "test") if name not in parts]
        parts = {**parts, **hold_out_missing(parts["train"], strata, groups, missing=missing,
                                             val_fraction=options.val_fraction, test_fraction=options.test_fraction,
                                             seed=seed, source=source)}  # fmt: skip
        parts["train"] = subsample(parts["train"], strata, options.max_train_rows, seed=seed, source=source)
        parts["val"] = subsample(parts["val"], strata, options.max_val_rows, seed=seed, source=source)
        return parts


def _drop_repeated_texts(texts: np.ndarray, parts: dict[str, np.ndarray]) -> dict[str, int]:
    """Remove from validation and test (in place) the rows whose text an earlier split holds;
    return how many each lost."""
    seen = {_normalized(text) for text in texts[parts["train"]]}
    dropped = {}
    for name in ("val", "test"):
        rows = parts.get(name)
        if rows is None:
            continue
        keep = np.array([_normalized(text) not in seen for text in texts[rows]], dtype=bool)
        dropped[name] = int((~keep).sum())
        logger.info("text_table: dropped %d %s rows whose text an earlier split holds", dropped[name], name)
        seen |= {_normalized(text) for text in texts[rows[keep]]}
        parts[name] = rows[keep]
    return dropped


def _normalized(text: str) -> str:
    return " ".join(str(text).lower().split())


def _counts(labels: np.ndarray, classes: list[str]) -> dict[str, int]:
    totals = labels.sum(axis=0) if labels.ndim == 2 else np.bincount(labels, minlength=len(classes))
    return {name: int(count) for name, count in zip(classes, totals, strict=True)}


def _slice_name(value: Any) -> str:
    """A metadata value as a slice name; an empty cell is a slice of its own."""
    return "(missing)" if pd.isna(value) else str(value)


def _fingerprint(options: TextTableOptions, task: str, seed: int) -> str:
    """Changes with the file (size, modification time), the options, the task and the split seed."""
    stat = options.path.stat()
    text = f"{options.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{options.model_dump_json()}|{task}|{seed}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]
