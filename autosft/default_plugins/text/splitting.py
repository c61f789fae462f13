"""The legal loader's strata and subsamples: multilabel rows stratified by their rarest label.

Holding val and test out (by contract when rows have a group column, since sentences of one
contract share its parties and wording) is the core's :mod:`autosft.splitting`; this module gives it
one class per row to stratify on and trims splits to the configured row counts.
"""

from __future__ import annotations

import numpy as np

from autosft.errors import DataError

__all__ = ["stratum", "subsample"]


def stratum(labels: np.ndarray) -> np.ndarray:
    """One class per row to stratify on: the label itself, or a multilabel row's rarest label (K for none)."""
    if labels.ndim == 1:
        return labels
    counts = labels.sum(axis=0)
    rarity = np.where(labels > 0, counts[None, :], np.inf)
    return np.where(labels.any(axis=1), rarity.argmin(axis=1), labels.shape[1])


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
