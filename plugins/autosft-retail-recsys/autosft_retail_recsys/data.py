"""The ``interactions`` dataset: an interaction log split by time into next-item ranking rows.

Reading and cleaning live in :mod:`autosft_retail_recsys.events`, the split and row encoding in
:mod:`autosft_retail_recsys.sequences`; this module checks the task and assembles :class:`Splits`.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from autosft import ConfigError, DatasetLoader, LoaderExample, Splits, TaskType
from autosft_retail_recsys.events import InteractionOptions, clean_events, fingerprint, read_log
from autosft_retail_recsys.sequences import SequenceRows, build_rows, target_users

__all__ = ["INPUT_KIND", "InteractionsDataset", "load_interactions"]

logger = logging.getLogger(__name__)

#: ``Splits.input_kind`` of item-history rows: a mapping with ``items`` (rows, max_history) tokens
#: (0 pads, item ``i`` is ``i + 1``, newest last) and ``exclude_seen`` (rows,) flags.
INPUT_KIND = "item_sequence"


class InteractionsDataset(DatasetLoader):
    """A CSV or Parquet log of (user, item, time) events as next-item ranking splits."""

    name: ClassVar[str] = "interactions"
    description: ClassVar[str] = "Interaction log (CSV/Parquet) split by time per user into next-item ranking rows"
    Options: ClassVar[type[BaseModel]] = InteractionOptions

    def example(self, folder: Path) -> LoaderExample:
        """Twelve users' six purchases each, of ten items, in a CSV, for `autosft plugins --check`."""
        path = folder / "interactions.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["user", "item", "timestamp"])
            for user in range(12):
                writer.writerows((f"u{user}", f"i{(user + step * 3) % 10}", step) for step in range(6))
        return LoaderExample("ranking", {"path": str(path), "max_history": 8})

    def load(self, options: BaseModel, *, task: TaskType, seed: int) -> Splits:
        assert isinstance(options, InteractionOptions)
        return load_interactions(options, task=task)


def load_interactions(options: InteractionOptions, *, task: TaskType) -> Splits:
    """Read, clean, split by time and encode; every dropped row or user is counted in ``info``."""
    if task != "ranking":
        raise ConfigError(f"dataset 'interactions' gives next-item rows for task 'ranking', but the study has {task!r}")
    counts: dict[str, int] = {}
    events = clean_events(read_log(options), options, counts)
    targets, segment_users = target_users(events, options)
    encoded = build_rows(events, targets, options)
    info = _info(encoded, events, counts, segment_users, options)
    logger.info("interactions: %s", info["rows"])
    return Splits(
        train=encoded.splits["train"],
        val=encoded.splits["val"],
        test=encoded.splits["test"],
        task="ranking",
        class_names=encoded.items,
        input_kind=INPUT_KIND,
        fingerprint=fingerprint(options),
        pretrain=encoded.pretrain,
        info=info,
    )


def _info(
    encoded: SequenceRows,
    events: Any,
    counts: dict[str, int],
    segment_users: dict[str, int],
    options: InteractionOptions,
) -> dict[str, Any]:
    """Plain JSON-ready facts: what was dropped and why, rows and users per split, the catalogue."""
    parts = {**encoded.splits, **({"pretrain": encoded.pretrain} if encoded.pretrain is not None else {})}
    return {
        "source": str(options.path),
        "split": f"time, per user: last {options.holdout_size} {options.holdout}(s) test, the one(s) before val",
        "events": len(events),
        "users": int(events["user"].nunique()),
        "items": len(encoded.items),
        "rows": {name: len(split) for name, split in parts.items()},
        "users_per_split": {name: len(set(encoded.raw[name].users)) for name in parts},
        "segment_users": segment_users,
        "dropped": counts,
        "handled": encoded.counts,
        "exclude_seen": options.exclude_seen,
    }
