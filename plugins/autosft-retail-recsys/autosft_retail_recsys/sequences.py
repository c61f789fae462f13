"""The time-based split and the rows a next-item model trains on.

Per user, events are grouped (whole baskets, or single events with ``holdout: event``) in time
order: the last ``holdout_size`` groups are the test period, the ones before the validation period,
the rest the training period. Each row predicts one item of a group from the items of the groups
strictly before it, so no row's input holds an event at or after its target, and no training or
pre-training row has a target at or after its user's validation period.

The catalogue (the classes) is every item of any user's training period; held-out targets outside
it cannot be scored and are dropped and counted, as are unseen items in a held-out row's history.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autosft import DataError, DataSplit
from autosft_retail_recsys.events import InteractionOptions

__all__ = ["PAD", "Rows", "SequenceRows", "build_rows", "target_users"]

#: Input token of an empty history position; item ``i`` of the catalogue is token ``i + 1``.
PAD = 0
PARTS = ("train", "val", "test")


@dataclass
class Rows:
    """Rows of one split as lists: history windows, target items, users, and the target's time."""

    histories: list[list[str]] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    times: list[Any] = field(default_factory=list)
    history_times: list[Any] = field(default_factory=list)  # newest event time in each history


@dataclass
class SequenceRows:
    """Encoded splits, the catalogue, and per-split facts for ``Splits.info``."""

    splits: dict[str, DataSplit]
    pretrain: DataSplit | None
    items: tuple[str, ...]
    raw: dict[str, Rows]
    counts: dict[str, Any]


def target_users(events: pd.DataFrame, options: InteractionOptions) -> tuple[set[str], dict[str, int]]:
    """Users of the fine-tuning segment (each user's segment is their most frequent value), and
    users per segment. An empty segment is an error naming the segments there are."""
    if not options.segmented:
        return set(events["user"].unique()), {}
    per_user = (
        events.groupby(["user", "segment"], observed=True, sort=False).size().reset_index(name="n")
        .sort_values(["user", "n"], ascending=[True, False], kind="stable").drop_duplicates("user")
    )  # fmt: skip
    segments = per_user["segment"]
    selected = pd.Series(True, index=per_user.index)
    if options.target_segments is not None:
        selected &= segments.isin(options.target_segments)
    if options.exclude_segments is not None:
        selected &= ~segments.isin(options.exclude_segments)
    sizes = {str(name): int(size) for name, size in segments.value_counts().items()}
    if not selected.any():
        available = ", ".join(f"{name} ({size})" for name, size in list(sizes.items())[:15])
        raise DataError(
            f"the target segment (target_segments={options.target_segments}, "
            f"exclude_segments={options.exclude_segments}) has no user in column {options.segment_column!r}; "
            f"segments (users): {available}"
        )
    return set(per_user.loc[selected, "user"]), sizes


def _groups(user_events: pd.DataFrame, holdout: str) -> list[tuple[Any, list[str]]]:
    """(time, items) per basket, oldest first; each event alone with ``holdout: event``.

    Baskets (invoices) of one user with the same timestamp are one visit and form one group: with
    no order between them, neither may serve as the other's history.
    """
    if holdout == "event":
        return [(time, [item]) for time, item in zip(user_events["time"], user_events["item"], strict=True)]
    grouped = user_events.groupby("time", sort=True, observed=True)["item"]
    return [(time, list(dict.fromkeys(items))) for time, items in grouped]


def _parts(groups: int, size: int) -> list[str]:
    """The period of each of a user's groups; users too short for both held-out periods only train."""
    if groups < 2 * size + 1:
        return ["train"] * groups
    return ["train"] * (groups - 2 * size) + ["val"] * size + ["test"] * size


def _user_rows(
    groups: list[tuple[Any, list[str]]], parts: list[str], max_history: int
) -> Iterator[tuple[str, list[str], str, Any, Any]]:
    """(part, history window, target, target time, newest history time) for every predictable item."""
    history: list[str] = []
    for index, ((time, items), part) in enumerate(zip(groups, parts, strict=True)):
        if history:
            window = history[-max_history:]
            for item in items:
                yield part, window, item, time, groups[index - 1][0]
        history.extend(items)


def build_rows(events: pd.DataFrame, targets: set[str], options: InteractionOptions) -> SequenceRows:
    """Split every user's events by time and encode rows of the target users (and the pretrain rows)."""
    rows = {part: Rows() for part in (*PARTS, "pretrain")}
    catalogue: set[str] = set()
    users_held_out = users_without_rows = 0
    for user, user_events in events.groupby("user", sort=True, observed=True):
        groups = _groups(user_events, options.holdout)
        parts = _parts(len(groups), options.holdout_size)
        users_held_out += user in targets and "test" in parts
        catalogue.update(
            item for (_, items), part in zip(groups, parts, strict=True) if part == "train" for item in items
        )
        produced = False
        for part, window, item, time, history_time in _user_rows(groups, parts, options.max_history):
            produced = True
            destinations = []
            if part == "train" and options.segmented:
                destinations.append("pretrain")  # everyone's training period, the target users' too
            if user in targets:
                destinations.append(part)
            for name in destinations:
                _append(rows[name], window, item, str(user), time, history_time)
        users_without_rows += not produced
    items = tuple(sorted(catalogue))
    counts: dict[str, Any] = {
        "users_held_out": int(users_held_out),
        "users_without_rows": int(users_without_rows),
        "target_users": len(targets),
    }
    index = {item: position + 1 for position, item in enumerate(items)}
    for part in ("val", "test"):
        rows[part], counts[f"{part}_unseen_targets_dropped"], counts[f"{part}_unseen_history_items_dropped"] = (
            _known_only(rows[part], index)
        )
        if options.exclude_seen:
            rows[part], counts[f"{part}_repeat_targets_dropped"] = _new_targets_only(rows[part])
    for part in PARTS:
        if not rows[part].targets:
            raise DataError(
                f"{str(options.path)!r}: the target users give no {part} row (users with at least "
                f"{2 * options.holdout_size + 1} {options.holdout}s: {users_held_out}); use more data, "
                "holdout: event or a smaller holdout_size"
            )
    encoded = {part: _encode(rows[part], index, options, masked=part != "train") for part in PARTS}
    pretrain = _encode(rows["pretrain"], index, options, masked=False) if rows["pretrain"].targets else None
    return SequenceRows(encoded, pretrain, items, rows, counts)


def _append(rows: Rows, window: list[str], item: str, user: str, time: Any, history_time: Any) -> None:
    rows.histories.append(window)
    rows.targets.append(item)
    rows.users.append(user)
    rows.times.append(time)
    rows.history_times.append(history_time)


def _known_only(rows: Rows, index: dict[str, int]) -> tuple[Rows, int, int]:
    """Rows whose target is in the catalogue, with unseen history items removed; and both counts."""
    kept = Rows()
    dropped_targets = dropped_history = 0
    for window, item, user, time, history_time in zip(
        rows.histories, rows.targets, rows.users, rows.times, rows.history_times, strict=True
    ):
        if item not in index:
            dropped_targets += 1
            continue
        known = [entry for entry in window if entry in index]
        dropped_history += len(window) - len(known)
        _append(kept, known, item, user, time, history_time)
    return kept, dropped_targets, dropped_history


def _new_targets_only(rows: Rows) -> tuple[Rows, int]:
    """Rows whose target is not already in their history (``exclude_seen``), and how many were not."""
    kept = Rows()
    for window, item, user, time, history_time in zip(
        rows.histories, rows.targets, rows.users, rows.times, rows.history_times, strict=True
    ):
        if item not in window:
            _append(kept, window, item, user, time, history_time)
    return kept, len(rows.targets) - len(kept.targets)


def _encode(rows: Rows, index: dict[str, int], options: InteractionOptions, *, masked: bool) -> DataSplit:
    """Left-padded token windows (newest item last) and class labels; ``exclude_seen`` flags rows
    whose scores the model masks (held-out rows only: a training target may be a re-purchase)."""
    tokens = np.full((len(rows.targets), options.max_history), PAD, dtype=np.int64)
    for row, window in enumerate(rows.histories):
        if window:
            tokens[row, -len(window) :] = [index[item] for item in window]
    labels = np.array([index[item] - 1 for item in rows.targets], dtype=np.int64)
    flags = np.full(len(labels), options.exclude_seen and masked, dtype=np.bool_)
    return DataSplit({"items": tokens, "exclude_seen": flags}, labels)
