"""Holding validation and test rows out of train: stratified by class, and by group when rows have one.

Rows of one group (a patient's scans, a contract's sentences) look alike; with one group on both
sides of a split, a model scores well by recognising the group, not the class. So with groups every
group's rows land in one split (scikit-learn's ``StratifiedGroupKFold`` keeps class shares close
while doing so), and a split given by the data is checked for groups that cross it. Loaders name
their groups (``unit``: "patient", "group") so errors speak the data's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autosft.errors import DataError

__all__ = ["SPLIT_NAMES", "check_groups", "hold_out", "hold_out_missing"]

#: Split names data may use (a split column's values, folder or manifest names), and the split each stands for.
SPLIT_NAMES: dict[str, str] = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}

Groups = np.ndarray | Sequence[Any]


def hold_out_missing(
    train: np.ndarray,
    strata: np.ndarray,
    groups: Groups | None,
    *,
    missing: Sequence[str],
    val_fraction: float,
    test_fraction: float,
    seed: int,
    source: str,
    unit: str = "group",
) -> dict[str, np.ndarray]:
    """Hold the ``missing`` splits (val, test or both) out of the ``train`` rows; return train and them.

    Fractions are of the rows train holds before anything is taken, so a source with only train rows
    is divided exactly as one split from scratch. Without groups the fractions are met exactly (up to
    rounding); with groups in folds of whole groups, so approximately (1 / round(1 / fraction)).
    """
    parts = {"train": train}
    taken = 0.0
    if "test" in missing:
        parts["train"], parts["test"] = hold_out(
            parts["train"], strata, groups, test_fraction, seed=seed, source=source, unit=unit
        )
        taken = test_fraction
    if "val" in missing:
        fraction = val_fraction / (1 - taken)
        parts["train"], parts["val"] = hold_out(
            parts["train"], strata, groups, fraction, seed=seed, source=source, unit=unit
        )
    return parts


def hold_out(
    rows: np.ndarray,
    strata: np.ndarray,
    groups: Groups | None,
    fraction: float,
    *,
    seed: int,
    source: str,
    unit: str = "group",
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``rows`` (indices into ``strata`` and ``groups``) into kept and held-out, both sorted."""
    try:
        if groups is None:
            from sklearn.model_selection import train_test_split

            kept, held = train_test_split(rows, test_size=fraction, stratify=strata[rows], random_state=seed)
        else:
            array = groups if isinstance(groups, np.ndarray) else np.asarray(groups, dtype=object)
            kept, held = _grouped(rows, strata[rows], array[rows], fraction, seed, unit)
    except ValueError as error:
        what = unit if groups is not None else "row"
        raise DataError(
            f"{source}: cannot hold out {fraction:.0%} of {len(rows)} rows stratified by class and {what}: "
            f"{str(error).splitlines()[0]}"
        ) from None
    return np.sort(np.asarray(kept)), np.sort(np.asarray(held))


def _grouped(
    rows: np.ndarray, strata: np.ndarray, groups: np.ndarray, fraction: float, seed: int, unit: str
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import StratifiedGroupKFold

    folds = max(2, round(1 / fraction))
    distinct = len(set(groups.tolist()))
    if distinct < folds:
        raise ValueError(f"{distinct} {unit}s are too few for a share of {fraction:.2f}; need at least {folds}")
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    kept, held = next(splitter.split(rows, strata, groups))
    return rows[kept], rows[held]


def check_groups(
    groups: Groups,
    split_of_row: Groups,
    source: str,
    *,
    unit: str = "group",
    items: str = "rows",
    split_column: str = "split_column",
) -> None:
    """Refuse a given split in which one group has ``items`` in two splits; name the first such group.

    ``split_column`` is how the loader's option that gives the split is spelled in the hint.
    """
    seen: dict[Any, Any] = {}
    for group, split in zip(_values(groups), _values(split_of_row), strict=True):
        first = seen.setdefault(group, split)
        if first != split:
            raise DataError(
                f"{source}: {unit} {group!r} has {items} in both the {first} and the {split} split; a {unit} must "
                f"stay in one split (drop {split_column} to have the split made by {unit})"
            )


def _values(values: Groups) -> list[Any]:
    """Plain Python values, so messages show ``'a'``, not ``np.str_('a')``."""
    return values.tolist() if isinstance(values, np.ndarray) else list(values)
