"""Which split pairs leak when they share a row, and dropping the evaluation rows that do.

A row of validation or test that also appears in a split trained on (or, for test, in validation,
where configurations are chosen) scores partly what the model has seen. Some official benchmark
splits ship that way (a few per cent of validation images also in train); with
``data_check: {drop_repeats: true}`` in the study file (or ``--drop-repeats``) those rows are
dropped from validation and test before the data check and before any trial, so every trial and
the final test see the same cleaned splits. Rows are compared exactly as the leakage check
compares them (:func:`~autosft.evaluate.rows.row_keys`), so after the drop it finds no leak.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from autosft.components import DataSplit, Splits
from autosft.evaluate.rows import row_keys

__all__ = ["DROPPED_REPEATS_INFO", "EVALUATED", "LEAKAGE_PAIRS", "drop_repeats", "take_rows"]

#: The splits a search trains, selects and tests on.
EVALUATED = ("train", "val", "test")
#: Split pairs where a shared row means the second split's score was partly seen in training.
LEAKAGE_PAIRS = (("train", "val"), ("train", "test"), ("val", "test"), ("pretrain", "val"), ("pretrain", "test"))
#: Key of ``Splits.info`` holding the rows dropped per split (the data check reports it).
DROPPED_REPEATS_INFO = "dropped_repeats"


def take_rows(split: DataSplit, rows: np.ndarray) -> DataSplit:
    """The rows ``rows`` (indices, in order) of ``split``: inputs, labels and groups alike."""
    inputs: Any = split.inputs
    if isinstance(inputs, Mapping):
        inputs = {name: np.asarray(array)[rows] for name, array in inputs.items()}
    else:
        inputs = np.asarray(inputs)[rows]
    groups = None if split.groups is None else np.asarray(split.groups)[rows]
    return DataSplit(inputs, np.asarray(split.labels)[rows], groups)


def drop_repeats(splits: Splits) -> Splits:
    """``splits`` without the validation and test rows that repeat a row of an earlier split.

    Validation is cleaned first, so a test row is kept when its only copy in validation was itself
    dropped as a repeat of train. The counts go to ``info[DROPPED_REPEATS_INFO]`` (``{"val": 12,
    "test": 0}``); when a row was dropped the fingerprint changes too, since it names the data.
    """
    named: dict[str, DataSplit] = {"train": splits.train, "val": splits.val, "test": splits.test}
    if splits.pretrain is not None:
        named["pretrain"] = splits.pretrain
    keys = {name: row_keys(split.inputs) for name, split in named.items()}
    dropped: dict[str, int] = {}
    slices = dict(splits.slices)  # each part's slice columns lose the same rows
    for target in ("val", "test"):
        known = {key for source, later in LEAKAGE_PAIRS if later == target and source in keys for key in keys[source]}
        keep = np.array([row for row, key in enumerate(keys[target]) if key not in known], dtype=np.int64)
        dropped[target] = len(keys[target]) - len(keep)
        if dropped[target]:
            named[target] = take_rows(named[target], keep)
            keys[target] = [keys[target][row] for row in keep]
            if target in slices:
                slices[target] = {column: np.asarray(values)[keep] for column, values in slices[target].items()}
    fingerprint = splits.fingerprint
    if any(dropped.values()):
        fingerprint = hashlib.sha256(f"{fingerprint}\0drop_repeats".encode()).hexdigest()[:24]
    info = {**splits.info, DROPPED_REPEATS_INFO: dropped}
    return dataclasses.replace(splits, val=named["val"], test=named["test"], fingerprint=fingerprint, info=info,
                               slices=slices)  # fmt: skip
