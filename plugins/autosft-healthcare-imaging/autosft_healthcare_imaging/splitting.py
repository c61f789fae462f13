"""Dividing rows into train, validation and test: stratified by class, and by patient when rows have one.

Scans of one patient look alike; a patient with images on both sides of a split lets a model score
well by recognising the patient, not the finding. So with patient ids every patient's rows land in
one split (scikit-learn's ``StratifiedGroupKFold`` keeps class shares close while doing so), and a
split given by the data is checked for patients that cross it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from autosft.errors import DataError

__all__ = ["SPLITS", "check_patients", "hold_out", "hold_out_missing", "split_rows"]

SPLITS: tuple[str, ...] = ("train", "val", "test")


def split_rows(
    labels: np.ndarray,
    groups: Sequence[str] | None,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    source: str,
) -> dict[str, np.ndarray]:
    """Row indices per split, stratified by ``labels``; with ``groups``, no group spans two splits.

    Without groups the fractions are met exactly (up to rounding); with groups they are met in
    folds of whole patients, so the shares are approximate (1 / round(1 / fraction)).
    """
    return hold_out_missing(
        np.arange(len(labels)), labels, groups, missing=("val", "test"),
        val_fraction=val_fraction, test_fraction=test_fraction, seed=seed, source=source,
    )  # fmt: skip


def hold_out_missing(
    train: np.ndarray,
    labels: np.ndarray,
    groups: Sequence[str] | None,
    *,
    missing: Sequence[str],
    val_fraction: float,
    test_fraction: float,
    seed: int,
    source: str,
) -> dict[str, np.ndarray]:
    """Hold the ``missing`` splits (val, test or both) out of the ``train`` rows; return train and them.

    Fractions are of the rows train holds before anything is taken, so a source with only train
    rows is split exactly as :func:`split_rows` splits it.
    """
    parts = {"train": train}
    taken = 0.0
    if "test" in missing:
        parts["train"], parts["test"] = hold_out(
            parts["train"], labels, groups, test_fraction, seed=seed, source=source
        )
        taken = test_fraction
    if "val" in missing:
        fraction = val_fraction / (1 - taken)
        parts["train"], parts["val"] = hold_out(parts["train"], labels, groups, fraction, seed=seed, source=source)
    return parts


def hold_out(
    rows: np.ndarray,
    labels: np.ndarray,
    groups: Sequence[str] | None,
    fraction: float,
    *,
    seed: int,
    source: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``rows`` (indices into ``labels`` and ``groups``) into kept and held-out, sorted."""
    try:
        if groups is None:
            kept, held = _stratified(rows, labels[rows], fraction, seed)
        else:
            kept, held = _grouped(rows, labels[rows], np.asarray(groups, dtype=object)[rows], fraction, seed)
    except ValueError as error:
        unit = "patient" if groups is not None else "row"
        raise DataError(
            f"{source}: cannot hold out {fraction:.0%} of {len(rows)} rows stratified by class and {unit}: "
            f"{str(error).splitlines()[0]}"
        ) from None
    return np.sort(kept), np.sort(held)


def _stratified(rows: np.ndarray, labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    kept, held = train_test_split(rows, test_size=fraction, stratify=labels, random_state=seed)
    return np.asarray(kept), np.asarray(held)


def _grouped(
    rows: np.ndarray, labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import StratifiedGroupKFold

    folds = max(2, round(1 / fraction))
    distinct = len(set(groups.tolist()))
    if distinct < folds:
        raise ValueError(f"{distinct} patients are too few for a share of {fraction:.2f}; need at least {folds}")
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    kept, held = next(splitter.split(rows, labels, groups))
    return rows[kept], rows[held]


def check_patients(groups: Sequence[str], split_of_row: Sequence[str], source: str) -> None:
    """Refuse a given split in which one patient has rows in two splits; name the first such patient."""
    seen: dict[str, str] = {}
    for patient, split in zip(groups, split_of_row, strict=True):
        first = seen.setdefault(patient, split)
        if first != split:
            raise DataError(
                f"{source}: patient {patient!r} has images in both the {first} and the {split} split; "
                "a patient must stay in one split (drop the split column to have the split made by patient)"
            )
