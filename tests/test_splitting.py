"""Group-aware hold-out shared by loaders: whole groups per split, class shares kept, crossings refused."""

from __future__ import annotations

import numpy as np
import pytest

from autosft.errors import DataError
from autosft.splitting import check_groups, hold_out_missing


def test_every_group_lands_in_one_split_and_every_row_in_exactly_one() -> None:
    groups = np.array([f"g{index // 4}" for index in range(80)], dtype=object)
    strata = np.array([index % 2 for index in range(80)])
    parts = hold_out_missing(
        np.arange(80), strata, groups, missing=("val", "test"), val_fraction=0.2, test_fraction=0.2, seed=3, source="s"
    )
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(80))
    owners = {group: {name for name, rows in parts.items() if group in set(groups[rows].tolist())} for group in groups}
    assert all(len(names) == 1 for names in owners.values())


def test_too_few_groups_are_named_in_the_loaders_words() -> None:
    with pytest.raises(DataError, match="3 contracts are too few"):
        hold_out_missing(
            np.arange(6), np.array([0, 1] * 3), ["a", "a", "b", "b", "c", "c"], missing=("test",),
            val_fraction=0.2, test_fraction=0.2, seed=0, source="s", unit="contract",
        )  # fmt: skip


def test_a_group_crossing_a_given_split_is_refused_with_plain_values() -> None:
    groups, splits = np.array(["x", "y", "x"]), np.array(["train", "train", "val"], dtype=object)
    with pytest.raises(DataError, match=r"group 'x' has rows in both the train and the val split.*drop split_column"):
        check_groups(groups, splits, "s")
    check_groups(groups, np.array(["train", "val", "train"]), "s")
