"""Reading an interaction log and cleaning it into events: one row per (user, basket, item).

Everything dropped is counted, never silently: missing ids, cancellations, filtered items and
users, duplicates. Timestamps that do not parse are an error rather than a drop, because a log
whose times cannot be trusted cannot be split by time.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from autosft import ConfigError, DataError, parse_times

__all__ = ["InteractionOptions", "clean_events", "fingerprint", "read_log"]

#: File suffixes the loader reads, and the pandas reader of each.
SUFFIXES: dict[str, str] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class InteractionOptions(BaseModel):
    """Options of the ``interactions`` dataset."""

    model_config = ConfigDict(extra="forbid")

    path: Path = Field(description="CSV (.csv) or Parquet (.parquet, .pq) interaction log.")
    user_column: str = Field(default="user", min_length=1, description="Customer id column.")
    item_column: str = Field(default="item", min_length=1, description="Item id column.")
    time_column: str = Field(default="timestamp", min_length=1, description="Event time: dates or numbers.")
    basket_column: str | None = Field(
        default=None, description="Basket (invoice) id; default: a user's events with one timestamp form a basket."
    )
    quantity_column: str | None = Field(default=None, description="Rows with quantity <= 0 are returns, dropped.")
    rating_column: str | None = Field(default=None, description="Explicit rating; see min_rating.")
    min_rating: float | None = Field(default=None, description="Keep only events rated at least this.")
    cancellation_prefix: str | None = Field(
        default=None, description="Baskets whose id starts with it are cancellations, dropped (Online Retail: 'C')."
    )
    exclude_items: list[str] = Field(default_factory=list, description="Item ids that are not products.")
    min_item_events: int = Field(default=1, ge=1, description="Drop items with fewer events (whole log).")
    min_user_events: int = Field(default=1, ge=1, description="Drop users with fewer events (after item filter).")
    segment_column: str | None = Field(default=None, description="Column naming each user's segment.")
    target_segments: list[str] | None = Field(default=None, description="Fine-tune on users in these segments.")
    exclude_segments: list[str] | None = Field(default=None, description="Fine-tune on users outside these.")
    holdout: Literal["basket", "event"] = Field(
        default="basket", description="Unit held out per user: whole baskets or single events."
    )
    holdout_size: int = Field(default=1, ge=1, description="Baskets (or events) per user for val, and for test.")
    max_history: int = Field(default=50, ge=1, le=1000, description="Most recent items a row's input keeps.")
    exclude_seen: bool = Field(
        default=False, description="Rank only items not in the row's history: masked in val/test scores."
    )

    @model_validator(mode="after")
    def _consistent(self) -> InteractionOptions:
        segmented = self.target_segments is not None or self.exclude_segments is not None
        if segmented and self.segment_column is None:
            raise ValueError("target_segments/exclude_segments need segment_column")
        if self.min_rating is not None and self.rating_column is None:
            raise ValueError("min_rating needs rating_column")
        if self.cancellation_prefix is not None and self.basket_column is None:
            raise ValueError("cancellation_prefix needs basket_column")
        named = [self.user_column, self.item_column, self.time_column, self.basket_column, self.quantity_column,
                 self.rating_column, self.segment_column]  # fmt: skip
        given = [column for column in named if column is not None]
        if len(set(given)) != len(given):
            raise ValueError(f"each column may have one role, but got {given}")
        return self

    @property
    def segmented(self) -> bool:
        return self.target_segments is not None or self.exclude_segments is not None

    def columns(self) -> list[str]:
        named = [self.user_column, self.item_column, self.time_column, self.basket_column, self.quantity_column,
                 self.rating_column, self.segment_column]  # fmt: skip
        return [column for column in named if column is not None]


def read_log(options: InteractionOptions) -> pd.DataFrame:
    """The log's needed columns; ids are read as text so ``17850.0`` stays what the file says."""
    path = options.path
    reader = SUFFIXES.get(path.suffix.lower())
    if reader is None:
        raise ConfigError(f"dataset path {str(path)!r}: unknown suffix {path.suffix!r}; valid: {', '.join(SUFFIXES)}")
    if not path.is_file():
        raise DataError(f"dataset path {str(path)!r} does not exist")
    ids = [options.user_column, options.item_column, *([options.basket_column] if options.basket_column else [])]
    try:
        if reader == "csv":
            frame = pd.read_csv(path, dtype={column: str for column in ids}, keep_default_na=True)
        else:
            frame = pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise DataError(f"cannot read {str(path)!r}: {error}") from None
    missing = [column for column in options.columns() if column not in frame.columns]
    if missing:
        raise DataError(f"{str(path)!r} has no column {missing[0]!r}; columns: {', '.join(map(str, frame.columns))}")
    frame = frame[options.columns()].copy()
    for column in ids:
        frame[column] = frame[column].astype("string")
    return frame


def fingerprint(options: InteractionOptions) -> str:
    """sha256 over the file's bytes and the options that shape the splits: keys every cache."""
    digest = hashlib.sha256()
    with options.path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    digest.update(json.dumps(options.model_dump(mode="json", exclude={"path"}), sort_keys=True).encode())
    return digest.hexdigest()[:16]


def clean_events(frame: pd.DataFrame, options: InteractionOptions, counts: dict[str, int]) -> pd.DataFrame:
    """Filter and deduplicate the log into events with a parsed ``time`` and a ``basket`` key.

    Returns columns ``user, item, time, basket, order`` (+ ``segment``), sorted by user, time and
    file order; ``counts`` gains one entry per reason rows were dropped.
    """
    source = repr(str(options.path))
    counts["rows_read"] = len(frame)
    if frame.empty:
        raise DataError(f"{source} has no rows")
    events = pd.DataFrame(
        {
            "user": frame[options.user_column],
            "item": frame[options.item_column].str.strip(),
            "time": parse_times(frame[options.time_column], options.time_column, source),
            "order": range(len(frame)),
        }
    )
    events["basket"] = frame[options.basket_column] if options.basket_column else events["time"].astype("string")
    if options.segment_column:
        events["segment"] = frame[options.segment_column].astype("string")
    keep = events["user"].notna() & events["item"].notna() & (events["item"] != "")
    events = _drop(events, keep, "missing_user_or_item", counts)
    if options.quantity_column or options.cancellation_prefix:
        cancelled = pd.Series(False, index=events.index)
        if options.quantity_column:
            quantity = pd.to_numeric(frame.loc[events.index, options.quantity_column], errors="coerce")
            cancelled |= ~(quantity > 0)
        if options.cancellation_prefix:
            cancelled |= events["basket"].str.startswith(options.cancellation_prefix).fillna(False).astype(bool)
        events = _drop(events, ~cancelled, "cancellations_dropped", counts)
    if options.rating_column and options.min_rating is not None:
        rating = pd.to_numeric(frame.loc[events.index, options.rating_column], errors="coerce")
        events = _drop(events, rating >= options.min_rating, "low_ratings_dropped", counts)
    if options.exclude_items:
        events = _drop(events, ~events["item"].isin(options.exclude_items), "excluded_items_dropped", counts)
    duplicate = frame.loc[events.index].duplicated()
    events = _drop(events, ~duplicate, "duplicate_rows_dropped", counts)
    events = _drop(events, ~events.duplicated(["user", "basket", "item"]), "repeats_in_basket_merged", counts)
    item_events = events.groupby("item")["item"].transform("size")
    events = _drop(events, item_events >= options.min_item_events, "rare_item_events_dropped", counts)
    user_events = events.groupby("user")["user"].transform("size")
    events = _drop(events, user_events >= options.min_user_events, "rare_user_events_dropped", counts)
    if events.empty:
        raise DataError(f"{source}: no event is left after filtering ({_describe(counts)})")
    return events.sort_values(["user", "time", "order"], kind="stable").reset_index(drop=True)


def _drop(events: pd.DataFrame, keep: pd.Series, reason: str, counts: dict[str, int]) -> pd.DataFrame:
    keep = keep.fillna(False).astype(bool)
    counts[reason] = counts.get(reason, 0) + int((~keep).sum())
    return events.loc[keep]


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{name}={value}" for name, value in counts.items() if value)
