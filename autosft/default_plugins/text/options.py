"""Options of the ``text_table`` loader: where the table is, which columns hold text, labels, splits and groups.

Validated at the edge with ``extra="forbid"``; rules that need the data (a column exists, holds
text) are checked when it is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from autosft.components import SliceOptions, SplitOptions

__all__ = ["TextTableOptions"]


class TextTableOptions(SplitOptions, SliceOptions):
    """Options of ``text_table``: one row per text (a clause, a sentence, a case) in CSV, JSONL or Parquet.

    ``slice_columns`` (from a study's ``slices``) are metadata columns (a document type, a source) kept
    beside the texts in ``Splits.slices``; a text or label column cannot be one."""

    path: Path = Field(description="The table: .csv, .jsonl/.ndjson or .parquet (or set format).")
    format: Literal["auto", "csv", "jsonl", "parquet"] = Field(
        default="auto", description="File format; auto reads it from the file suffix."
    )
    text_columns: list[str] = Field(
        default=["text"], min_length=1, description="Columns joined, in this order, into each text, e.g. [title, body]."
    )
    text_separator: str = Field(default="\n", description="Put between the text columns' values.")
    label_columns: list[str] = Field(
        default=["label"],
        min_length=1,
        description="binary/multiclass: the one label column. multilabel: one column of lists or "
        "separator-joined strings, or one 0/1 column per class (the column names are the classes).",
    )
    label_separator: str = Field(default=";", min_length=1, description="multilabel: separates labels in a string.")
    class_names: list[str] | None = Field(
        default=None,
        description="The classes in index order; a label outside them is an error. Default: the sorted labels seen.",
    )
    positive_class: str | None = Field(
        default=None, description="binary: the class scored as positive (index 1); default the second class."
    )
    empty_labels: Literal["error", "keep"] = Field(
        default="error",
        description="multilabel: a row without any label is an error, or kept as a row of no class "
        "(e.g. a fair clause); kept rows are counted in the log.",
    )
    split_column: str | None = Field(
        default=None, description="Column of split names (train/validation/test...); without it rows are split here."
    )
    group_column: str | None = Field(
        default=None, description="Column of group ids (document, contract, case): a group never spans two splits."
    )
    max_train_rows: int | None = Field(
        default=None, ge=10, description="Keep a stratified random subset of this many training rows (quick studies)."
    )
    max_val_rows: int | None = Field(
        default=None, ge=10, description="Keep a stratified random subset of this many validation rows."
    )
    drop_repeated_texts: bool = Field(
        default=False,
        description="Drop validation/test rows whose text (case and spacing aside) already appears in an earlier "
        "split: boilerplate repeated across documents would otherwise be scored as if unseen.",
    )

    @field_validator("text_columns", "label_columns")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value) or any(not name for name in value):
            raise ValueError(f"column names must be distinct and non-empty, but got {value}")
        return value

    @field_validator("class_names")
    @classmethod
    def _classes(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (len(value) < 2 or len(set(value)) != len(value)):
            raise ValueError(f"class_names must list at least two distinct classes, but got {value}")
        return value

    @model_validator(mode="after")
    def _columns_apart(self) -> TextTableOptions:
        roles = [*self.text_columns, *self.label_columns, self.split_column, self.group_column]
        named = [name for name in roles if name is not None]
        if len(set(named)) != len(named):
            raise ValueError(f"a column may play one role only (text, label, split, group), but got {named}")
        for column in self.slice_columns:
            if column in self.text_columns or column in self.label_columns:
                role = "a text column (a feature)" if column in self.text_columns else "a label column"
                raise ValueError(f"slice column {column!r} is also {role}: a slice is metadata kept beside the "
                                 "inputs; remove it from one of them")  # fmt: skip
        return self
