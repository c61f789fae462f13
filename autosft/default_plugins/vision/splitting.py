"""Dividing scans into train, validation and test: stratified by class, and by patient when rows have one.

Scans of one patient look alike; a patient with images on both sides of a split lets a model score
well by recognising the patient, not the finding. The core's :mod:`autosft.splitting` does the
group-aware work; this module calls its groups patients and splits a source from scratch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from autosft.splitting import check_groups, hold_out_missing

__all__ = ["SPLITS", "UNIT", "check_patients", "split_rows"]

SPLITS: tuple[str, ...] = ("train", "val", "test")
#: What this plugin's groups are, as error messages name them.
UNIT = "patient"


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
        val_fraction=val_fraction, test_fraction=test_fraction, seed=seed, source=source, unit=UNIT,
    )  # fmt: skip


def check_patients(groups: Sequence[str], split_of_row: Sequence[str], source: str) -> None:
    """Refuse a given split in which one patient has images in two splits; name the first such patient."""
    check_groups(groups, split_of_row, source, unit=UNIT, items="images", split_column="the split column")
