"""Built-in ranking metrics: HitRate@k, NDCG@k, MRR and catalogue coverage over item scores.

A ranking row's label is the index of its held-out item and its scores cover the whole catalogue
(rows, items), so every metric follows from the held-out item's rank. Ties are broken at random in
expectation: a constant scorer (all items equal) gets the rank a random ordering would give it,
never a flattering first place.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autosft.components import Metric
from autosft.hookspecs import hookimpl

__all__ = ["CUTOFFS", "METRICS", "catalogue_coverage", "hit_rate", "ndcg", "ranks", "reciprocal_rank"]

RANKING = frozenset({"ranking"})
#: The k of the registered ``hit_rate@k``, ``ndcg@k`` and ``coverage@k`` metrics.
CUTOFFS = (5, 10, 20)


def ranks(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """0-based rank of each row's held-out item: items scored higher, plus half the items tied with it."""
    scores = np.asarray(scores)
    rows = np.arange(len(scores))
    target = scores[rows, np.asarray(labels, dtype=np.int64)][:, None]
    higher = (scores > target).sum(axis=1)
    tied = (scores == target).sum(axis=1) - 1
    return higher + tied / 2.0


def hit_rate(k: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Per row: 1 where its held-out item is among the top ``k``, else 0 (the metric is their mean)."""

    def per_row(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
        return (ranks(labels, scores) < k).astype(np.float64)

    return per_row


def ndcg(k: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Per row, with one relevant item: ``1 / log2(rank + 2)`` inside the top ``k``, else 0 (NDCG is their mean)."""

    def per_row(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
        rank = ranks(labels, scores)
        return np.where(rank < k, 1.0 / np.log2(rank + 2.0), 0.0)

    return per_row


def reciprocal_rank(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per row: ``1 / (rank + 1)``, with no cut-off (MRR is their mean)."""
    return 1.0 / (ranks(labels, scores) + 1.0)


def _mean_of(per_row: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[[np.ndarray, np.ndarray], float]:
    def compute(labels: np.ndarray, scores: np.ndarray) -> float:
        return float(np.mean(per_row(labels, scores)))

    return compute


def catalogue_coverage(k: int) -> Callable[[np.ndarray, np.ndarray], float]:
    """Share of the catalogue that appears in at least one row's top ``k``: low means the model
    recommends the same best-sellers to everyone."""

    def compute(labels: np.ndarray, scores: np.ndarray) -> float:
        scores = np.asarray(scores)
        top = np.argpartition(-scores, min(k, scores.shape[1]) - 1, axis=1)[:, :k]
        return float(len(np.unique(top)) / scores.shape[1])

    return compute


def _row_mean_metric(name: str, per_row: Callable[[np.ndarray, np.ndarray], np.ndarray], description: str) -> Metric:
    return Metric(name, "maximize", _mean_of(per_row), RANKING, description, per_row=per_row)


METRICS = (
    *(_row_mean_metric(f"hit_rate@{k}", hit_rate(k), f"Share of rows with the held-out item in the top {k}.")
      for k in CUTOFFS),
    *(_row_mean_metric(f"ndcg@{k}", ndcg(k), f"NDCG of the held-out item within the top {k}.") for k in CUTOFFS),
    _row_mean_metric("mrr", reciprocal_rank, "Mean reciprocal rank of the held-out item."),
    Metric("coverage@10", "maximize", catalogue_coverage(10), RANKING, "Share of items in some row's top 10."),
)  # fmt: skip


@hookimpl(trylast=True)
def autosft_register_metrics(register: Callable[[Metric], None]) -> None:
    for metric in METRICS:
        register(metric)
