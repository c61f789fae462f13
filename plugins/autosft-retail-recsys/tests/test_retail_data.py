"""The ``interactions`` loader: the time split never leaks, and every bad input is handled and
counted or refused in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from autosft_retail_recsys.data import load_interactions
from autosft_retail_recsys.events import InteractionOptions, clean_events, read_log
from autosft_retail_recsys.sequences import SequenceRows, build_rows, target_users
from retail_helpers import log_options, make_log

from autosft.errors import ConfigError, DataError


def _rows(options: InteractionOptions) -> SequenceRows:
    events = clean_events(read_log(options), options, {})
    targets, _ = target_users(events, options)
    return build_rows(events, targets, options)


def _assert_no_leak(encoded: SequenceRows, *, strict: bool) -> None:
    """Each row's history is older than its target, and per user train < val < test in time."""

    def before(earlier: Any, later: Any) -> bool:
        return earlier < later if strict else earlier <= later  # single events may share a timestamp

    periods: dict[str, dict[str, list[Any]]] = {}
    for part, rows in encoded.raw.items():
        for time, history_time, user in zip(rows.times, rows.history_times, rows.users, strict=True):
            assert before(history_time, time)
            periods.setdefault(user, {}).setdefault(part, []).append(time)
    held_out = [parts for parts in periods.values() if "val" in parts]
    assert held_out
    for parts in held_out:
        assert all(before(time, min(parts["val"])) for time in parts.get("train", []) + parts.get("pretrain", []))
        assert before(max(parts["val"]), min(parts["test"]))


def test_the_split_never_leaks_future_events(log_file: Path) -> None:
    options = InteractionOptions(**log_options(log_file))
    encoded = _rows(options)
    _assert_no_leak(encoded, strict=True)
    # Only target users (FR) are fine-tuned on and judged; everyone's training period pre-trains.
    assert {user for part in ("train", "val", "test") for user in encoded.raw[part].users} <= {
        f"u{user:03d}" for user in range(0, 40, 2)
    }
    assert len(set(encoded.raw["pretrain"].users)) > len(set(encoded.raw["train"].users))
    # The test history holds the validation basket: the newest input item is the val period's.
    splits = load_interactions(options, task="ranking")
    assert splits.test.inputs["items"][:, -1].min() > 0


def test_event_holdout_keeps_file_order_within_a_timestamp(log_file: Path) -> None:
    options = InteractionOptions(**log_options(log_file, holdout="event", holdout_size=2))
    encoded = _rows(options)
    _assert_no_leak(encoded, strict=False)
    assert encoded.counts["users_held_out"] == 20


def test_the_shared_online_retail_slice_splits_without_leaks(retail_file: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(retail_file, dtype={"CustomerID": str, "StockCode": str, "InvoiceNo": str})
    customers = frame["CustomerID"].drop_duplicates().iloc[:300]
    path = tmp_path / "slice.csv"
    frame[frame["CustomerID"].isin(customers)].to_csv(path, index=False)
    options = InteractionOptions(
        path=path, user_column="CustomerID", item_column="StockCode", time_column="InvoiceDate",
        basket_column="InvoiceNo", quantity_column="Quantity", cancellation_prefix="C",
        exclude_items=["POST", "M", "C2", "D", "BANK CHARGES", "PADS"], segment_column="Country",
        exclude_segments=["United Kingdom"],
    )  # fmt: skip
    _assert_no_leak(_rows(options), strict=True)
    splits = load_interactions(options, task="ranking")
    dropped = splits.info["dropped"]
    assert dropped["cancellations_dropped"] > 0 and dropped["excluded_items_dropped"] > 0
    assert splits.pretrain is not None and len(splits.pretrain) > len(splits.train)


def _write(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "edited.csv"
    frame.to_csv(path, index=False)
    return path


def test_duplicate_rows_are_dropped_and_counted(tmp_path: Path, log_file: Path) -> None:
    clean = load_interactions(InteractionOptions(**log_options(log_file)), task="ranking")
    frame = make_log()
    doubled = _write(tmp_path, pd.concat([frame, frame.iloc[[3, 10]]]))
    splits = load_interactions(InteractionOptions(**log_options(doubled)), task="ranking")
    assert splits.info["dropped"]["duplicate_rows_dropped"] == 2
    assert splits.info["rows"] == clean.info["rows"]


def test_cancellations_and_returns_are_dropped_and_counted(tmp_path: Path) -> None:
    frame = make_log()
    frame.loc[0, "quantity"] = -2
    frame.loc[1, "basket"] = "C" + frame.loc[1, "basket"]
    options = log_options(_write(tmp_path, frame), cancellation_prefix="C")
    splits = load_interactions(InteractionOptions(**options), task="ranking")
    assert splits.info["dropped"]["cancellations_dropped"] == 2


def test_single_event_users_and_unseen_items_are_counted_not_fatal(tmp_path: Path) -> None:
    frame = make_log()
    lonely = {"user": "u999", "item": "i001", "basket": "x", "timestamp": "2011-03-01", "quantity": 1, "country": "FR"}
    last = frame[frame["user"] == "u000"]["basket"].iloc[-1]  # u000's test basket gets a brand-new item
    novel = {**frame[frame["basket"] == last].iloc[0].to_dict(), "item": "never-seen-before"}
    options = InteractionOptions(**log_options(_write(tmp_path, pd.concat([frame, pd.DataFrame([lonely, novel])]))))
    splits = load_interactions(options, task="ranking")
    assert splits.info["handled"]["users_without_rows"] == 1
    assert splits.info["handled"]["test_unseen_targets_dropped"] == 1
    assert "never-seen-before" not in splits.class_names


def test_unparseable_timestamps_are_one_line_errors(tmp_path: Path) -> None:
    frame = make_log()
    frame.loc[5, "timestamp"] = "next tuesday"
    with pytest.raises(
        DataError, match=r"'timestamp' .* 1 values that are missing or not times \(e.g. 'next tuesday'\)"
    ):
        load_interactions(InteractionOptions(**log_options(_write(tmp_path, frame))), task="ranking")


def test_an_empty_segment_names_the_segments_there_are(log_file: Path) -> None:
    options = InteractionOptions(**log_options(log_file, target_segments=["DE"]))
    with pytest.raises(DataError, match=r"has no user in column 'country'; segments \(users\): FR \(20\), UK \(20\)"):
        load_interactions(options, task="ranking")


def test_other_tasks_and_inconsistent_options_are_refused(log_file: Path) -> None:
    with pytest.raises(ConfigError, match="for task 'ranking', but the study has 'multiclass'"):
        load_interactions(InteractionOptions(**log_options(log_file)), task="multiclass")
    with pytest.raises(ValueError, match="cancellation_prefix needs basket_column"):
        InteractionOptions(path=log_file, cancellation_prefix="C")
    with pytest.raises(DataError, match="no column 'customer'"):
        load_interactions(InteractionOptions(**log_options(log_file, user_column="customer")), task="ranking")


def test_exclude_seen_drops_repeat_targets_and_flags_held_out_rows(log_file: Path) -> None:
    splits = load_interactions(InteractionOptions(**log_options(log_file, exclude_seen=True)), task="ranking")
    assert splits.info["handled"]["test_repeat_targets_dropped"] > 0
    assert not splits.train.inputs["exclude_seen"].any() and splits.test.inputs["exclude_seen"].all()
    history = splits.test.inputs["items"]
    assert not np.any(history == (splits.test.labels + 1)[:, None])  # no target is in its own history
