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

__all__ = ["CUTOFFS", "METRICS", "catalogue_coverage", "hit_rate", "mean_reciprocal_rank", "ndcg", "ranks"]

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


def hit_rate(k: int) -> Callable[[np.ndarray, np.ndarray], float]:
    """Share of rows whose held-out item is among the top ``k``."""

    def compute(labels: np.ndarray, scores: np.ndarray) -> float:
        return float(np.mean(ranks(labels, scores) < k))

    return compute


def ndcg(k: int) -> Callable[[np.ndarray, np.ndarray], float]:
    """Normalized DCG with one relevant item per row: ``1 / log2(rank + 2)`` inside the top ``k``, else 0."""

    def compute(labels: np.ndarray, scores: np.ndarray) -> float:
        rank = ranks(labels, scores)
        return float(np.mean(np.where(rank < k, 1.0 / np.log2(rank + 2.0), 0.0)))

    return compute


def mean_reciprocal_rank(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean of ``1 / (rank + 1)`` over rows, with no cut-off."""
    return float(np.mean(1.0 / (ranks(labels, scores) + 1.0)))


def catalogue_coverage(k: int) -> Callable[[np.ndarray, np.ndarray], float]:
    """Share of the catalogue that appears in at least one row's top ``k``: low means the model
    recommends the same best-sellers to everyone."""

    def compute(labels: np.ndarray, scores: np.ndarray) -> float:
        scores = np.asarray(scores)
        top = np.argpartition(-scores, min(k, scores.shape[1]) - 1, axis=1)[:, :k]
        return float(len(np.unique(top)) / scores.shape[1])

    return compute


METRICS = (
    *(Metric(f"hit_rate@{k}", "maximize", hit_rate(k), RANKING, f"Share of rows with the held-out item in the top {k}.")
      for k in CUTOFFS),
    *(Metric(f"ndcg@{k}", "maximize", ndcg(k), RANKING, f"NDCG of the held-out item within the top {k}.")
      for k in CUTOFFS),
    Metric("mrr", "maximize", mean_reciprocal_rank, RANKING, "Mean reciprocal rank of the held-out item."),
    Metric("coverage@10", "maximize", catalogue_coverage(10), RANKING, "Share of items in some row's top 10."),
)  # fmt: skip


@hookimpl(trylast=True)
def autosft_register_metrics(register: Callable[[Metric], None]) -> None:
    for metric in METRICS:
        register(metric)
