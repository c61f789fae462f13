"""Dividing rows into train, validation and test: stratified by class, and by group when rows have one.

Sentences of one contract share its parties, wording and clause patterns; with one contract on
both sides of a split, a model scores well by recognising the contract, not the unfair clause. So
with a group column every group's rows land in one split (scikit-learn's ``StratifiedGroupKFold``
keeps class shares close while doing so), and a split given by the data is checked for groups
that cross it. Multilabel rows are stratified by their rarest label.
"""

from __future__ import annotations

import numpy as np

from autosft.errors import DataError

__all__ = ["check_groups", "hold_out", "split_missing", "stratum", "subsample"]


def stratum(labels: np.ndarray) -> np.ndarray:
    """One class per row to stratify on: the label itself, or a multilabel row's rarest label (K for none)."""
    if labels.ndim == 1:
        return labels
    counts = labels.sum(axis=0)
    rarity = np.where(labels > 0, counts[None, :], np.inf)
    return np.where(labels.any(axis=1), rarity.argmin(axis=1), labels.shape[1])


def hold_out(
    rows: np.ndarray, strata: np.ndarray, groups: np.ndarray | None, fraction: float, *, seed: int, source: str
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``rows`` (indices into ``strata`` and ``groups``) into kept and held-out, both sorted."""
    try:
        if groups is None:
            from sklearn.model_selection import train_test_split

            kept, held = train_test_split(rows, test_size=fraction, stratify=strata[rows], random_state=seed)
        else:
            kept, held = _grouped(rows, strata[rows], groups[rows], fraction, seed)
    except ValueError as error:
        unit = "group" if groups is not None else "row"
        raise DataError(
            f"{source}: cannot hold out {fraction:.0%} of {len(rows)} rows stratified by class and {unit}: "
            f"{str(error).splitlines()[0]}"
        ) from None
    return np.sort(np.asarray(kept)), np.sort(np.asarray(held))


def _grouped(
    rows: np.ndarray, strata: np.ndarray, groups: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import StratifiedGroupKFold

    folds = max(2, round(1 / fraction))
    distinct = len(set(groups.tolist()))
    if distinct < folds:
        raise ValueError(f"{distinct} groups are too few for a share of {fraction:.2f}; need at least {folds}")
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    kept, held = next(splitter.split(rows, strata, groups))
    return rows[kept], rows[held]


def split_missing(
    parts: dict[str, np.ndarray],
    strata: np.ndarray,
    groups: np.ndarray | None,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    source: str,
) -> dict[str, np.ndarray]:
    """Hold the splits ``parts`` lacks (val, test or both) out of its train rows.

    Fractions are of the train rows before anything is taken, so a table without a split column is
    divided exactly as one whose split column says train everywhere.
    """
    parts = dict(parts)
    taken = 0.0
    if "test" not in parts:
        parts["train"], parts["test"] = hold_out(parts["train"], strata, groups, test_fraction, seed=seed,
                                                 source=source)  # fmt: skip
        taken = test_fraction
    if "val" not in parts:
        fraction = val_fraction / (1 - taken)
        parts["train"], parts["val"] = hold_out(parts["train"], strata, groups, fraction, seed=seed, source=source)
    return parts


def subsample(rows: np.ndarray, strata: np.ndarray, count: int | None, *, seed: int, source: str) -> np.ndarray:
    """A stratified random ``count`` of ``rows`` (all of them when ``count`` is None or not smaller), sorted."""
    if count is None or count >= len(rows):
        return rows
    from sklearn.model_selection import train_test_split

    try:
        kept, _ = train_test_split(rows, train_size=count, stratify=strata[rows], random_state=seed)
    except ValueError as error:
        raise DataError(f"{source}: cannot keep {count} of {len(rows)} rows stratified by class: {error}") from None
    return np.sort(np.asarray(kept))


def check_groups(groups: np.ndarray, split_of_row: np.ndarray, source: str) -> None:
    """Refuse a given split in which one group has rows in two splits; name the first such group."""
    seen: dict[str, str] = {}
    for group, split in zip(groups.tolist(), split_of_row.tolist(), strict=True):
        first = seen.setdefault(group, split)
        if first != split:
            raise DataError(
                f"{source}: group {group!r} has rows in both the {first} and the {split} split; a group must stay in "
                "one split (drop split_column to have the split made by group)"
            )
