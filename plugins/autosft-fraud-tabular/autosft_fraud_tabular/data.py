"""The ``tabular`` dataset: a CSV or Parquet file with a label column, split and preprocessed.

Reading and option checks live here; splitting and preprocessing are shared with the synthetic
generator in :mod:`autosft_fraud_tabular.prepare`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import ClassVar

import pandas as pd
from pydantic import BaseModel, Field, model_validator

from autosft import (
    ConfigError,
    DataError,
    DatasetLoader,
    LoaderExample,
    NewRows,
    SliceOptions,
    SplitOptions,
    Splits,
    TaskType,
)
from autosft_fraud_tabular.prepare import TableSpec, fingerprint, prepare_new_rows, prepare_splits

__all__ = ["SUFFIXES", "TabularDataset", "TabularOptions", "file_digest", "read_table"]

#: File suffixes ``read_table`` understands, and the reader each maps to.
SUFFIXES: dict[str, str] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class TabularOptions(SplitOptions, SliceOptions):
    """Options of the ``tabular`` dataset; ``slice_columns`` (from a study's ``slices``) are kept out of
    the features, as ``drop`` columns are, and returned in ``Splits.slices``."""

    path: Path = Field(description="CSV (.csv) or Parquet (.parquet, .pq) file.")
    target: str = Field(min_length=1, description="Label column.")
    positive_label: str | int | None = Field(
        default=None,
        description="Binary tasks: the positive label value; default 1 for 0/1 labels, else the minority.",
    )
    categorical: list[str] | None = Field(default=None, description="Columns forced categorical.")
    numeric: list[str] | None = Field(default=None, description="Columns forced numeric.")
    drop: list[str] = Field(default_factory=list, description="Columns that are not features (IDs).")
    time_column: str | None = Field(default=None, description="Order rows by it: oldest train, newest test.")
    segment_column: str | None = Field(default=None, description="Column naming each row's population.")
    target_segment: str | int | None = Field(default=None, description="Segment to fine-tune on; others pre-train.")
    pretrain_path: Path | None = Field(default=None, description="File of source rows to pre-train on.")

    @model_validator(mode="after")
    def _consistent(self) -> TabularOptions:
        if (self.segment_column is None) != (self.target_segment is None):
            raise ValueError("segment_column and target_segment must be given together")
        if self.segment_column is not None and self.pretrain_path is not None:
            raise ValueError("give either segment_column/target_segment or pretrain_path, not both")
        roles = {
            "target": [self.target],
            "categorical": self.categorical or [],
            "numeric": self.numeric or [],
            "drop": self.drop,
            "time_column": [self.time_column] if self.time_column else [],
            "segment_column": [self.segment_column] if self.segment_column else [],
        }
        for column in self.slice_columns:
            role = next((role for role, columns in roles.items() if column in columns and role != "drop"), None)
            if role is not None:
                raise ValueError(
                    f"slice column {column!r} is also the {role} column: a slice is a group the model is scored "
                    "per, never a feature or a label; remove it from one of them"
                    if role in ("target", "time_column", "segment_column")
                    else f"slice column {column!r} is also a feature (listed as {role}): slice columns are kept "
                    f"out of the features; remove it from {role}"
                )
        seen: dict[str, str] = {}
        for role, columns in roles.items():
            for column in columns:
                if column in seen:
                    raise ValueError(f"column {column!r} is listed as both {seen[column]} and {role}")
                seen[column] = role
        return self

    def spec(self) -> TableSpec:
        return TableSpec(
            source=repr(str(self.path)),
            target=self.target,
            positive_label=self.positive_label,
            categorical=tuple(self.categorical or ()),
            numeric=tuple(self.numeric or ()),
            drop=tuple(self.drop),
            time_column=self.time_column,
            segment_column=self.segment_column,
            target_segment=self.target_segment,
            slices=tuple(self.slice_columns),
            val_fraction=self.val_fraction,
            test_fraction=self.test_fraction,
        )


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file by suffix; every failure is a one-line :class:`DataError`."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ConfigError(
            f"data file {str(path)!r} has unsupported suffix {path.suffix!r}; valid suffixes: {', '.join(SUFFIXES)}"
        )
    if not path.is_file():
        raise DataError(f"data file {str(path)!r} does not exist")
    if path.stat().st_size == 0:
        raise DataError(f"data file {str(path)!r} is empty")
    try:
        frame = pd.read_csv(path, low_memory=False) if kind == "csv" else pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"data file {str(path)!r} is empty") from None
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"cannot read {kind} file {str(path)!r}: {reason}") from None
    if frame.empty:
        raise DataError(f"data file {str(path)!r} has no rows")
    frame.columns = [str(column) for column in frame.columns]
    return frame


def file_digest(path: Path) -> str:
    """Sha256 of a file's bytes, read in chunks so large files need no memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class TabularDataset(DatasetLoader):
    """A table from a file, with optional time-ordered split and a pre-training population."""

    name: ClassVar[str] = "tabular"
    description: ClassVar[str] = (
        "CSV/Parquet table: stratified or time-ordered split, segment or file pre-training population"
    )
    Options: ClassVar[type[BaseModel]] = TabularOptions

    def example(self, folder: Path) -> LoaderExample:
        """Sixty transactions (an amount, a category, a fraud flag) in a CSV, for `autosft plugins --check`."""
        rows = [{"amount": 10.0 + (index * 7) % 90, "channel": ("web", "shop", "phone")[index % 3],
                 "fraud": int(index % 5 == 0)} for index in range(60)]  # fmt: skip
        path = folder / "transactions.csv"
        pd.DataFrame(rows).to_csv(path, index=False)
        return LoaderExample("binary", {"path": str(path), "target": "fraud"})

    def load(self, options: BaseModel, *, task: TaskType, seed: int) -> Splits:
        assert isinstance(options, TabularOptions)
        frame, pretrain_frame, split_seed = self._read(options, task, seed)
        digests = [file_digest(options.path)]
        if options.pretrain_path is not None:
            digests.append(file_digest(options.pretrain_path))
        # Paths stay out of the key: the bytes are hashed, so a moved file keeps its cached weights.
        settings = options.model_dump_json(exclude={"path", "pretrain_path", "split_seed"})
        key = fingerprint(*digests, settings, task, str(split_seed))
        return prepare_splits(frame, options.spec(), task=task, seed=split_seed, data_fingerprint=key,
                              pretrain_frame=pretrain_frame, pretrain_source=_pretrain_source(options))  # fmt: skip

    def load_new(self, options: BaseModel, path: Path, *, task: TaskType, seed: int) -> NewRows:
        """Every row of ``path`` through the scaler and category encoder fitted on the study's train rows."""
        assert isinstance(options, TabularOptions)
        new_frame = read_table(path)
        frame, pretrain_frame, split_seed = self._read(options, task, seed)
        return prepare_new_rows(frame, new_frame, options.spec(), repr(str(path)), task=task, seed=split_seed,
                                pretrain_frame=pretrain_frame, pretrain_source=_pretrain_source(options))  # fmt: skip

    def _read(
        self, options: TabularOptions, task: TaskType, seed: int
    ) -> tuple[pd.DataFrame, pd.DataFrame | None, int]:
        """The study's table, its pretrain table (or ``None``) and the split seed."""
        if task not in ("binary", "multiclass"):
            raise ConfigError(f"dataset tabular supports task binary or multiclass, but got {task!r}")
        split_seed = seed if options.split_seed is None else options.split_seed
        pretrain_frame = None if options.pretrain_path is None else read_table(options.pretrain_path)
        return read_table(options.path), pretrain_frame, split_seed


def _pretrain_source(options: TabularOptions) -> str | None:
    return repr(str(options.pretrain_path)) if options.pretrain_path else None
