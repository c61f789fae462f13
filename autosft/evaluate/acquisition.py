"""Which unlabelled rows to label next: uncertainty (margin, entropy), uncertainty plus diversity, or random.

Every strategy reads only the model's predicted probabilities (and, for ``diverse``, its embeddings
of the rows), so it is the same for text, images and tables. The scores are our own few lines of
numpy rather than scikit-activeml's: its ``uncertainty_scores`` refuses probabilities whose rows do
not sum to one (every multilabel model's sigmoids), and its k-center greedy lives in a private
module and keeps a (batch, pool) utility matrix we never need. Rankings are deterministic: ties go
to the earlier row, and only ``random`` draws, from ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autosft.errors import ConfigError
from autosft.registry import unknown_name

__all__ = [
    "DIVERSE_CANDIDATES", "STRATEGIES", "Ranking", "check_request", "k_center_greedy", "rank_pool", "uncertainty",
]  # fmt: skip

#: The strategies :func:`rank_pool` knows. ``random`` is the baseline every other must beat.
STRATEGIES: tuple[str, ...] = ("margin", "entropy", "diverse", "random")

#: ``diverse`` spreads its ``top`` picks over the this-many-times-``top`` most uncertain rows: wide
#: enough that near-duplicate uncertain rows are skipped, narrow enough that every pick is still unsure.
DIVERSE_CANDIDATES = 4

#: Distances from pool rows to labelled rows are computed this many labelled rows at a time (memory bound).
_CHUNK = 2048


@dataclass(frozen=True)
class Ranking:
    """The rows to label next, in the order to label them."""

    #: Positions in the pool.
    rows: np.ndarray
    #: Each picked row's uncertainty in [0, 1] (margin for ``diverse`` and ``random``): 1 is least sure.
    scores: np.ndarray


def check_request(strategy: str, top: int) -> None:
    """Refuse an unknown strategy (naming the closest) or fewer than one row, before any data is read."""
    if strategy not in STRATEGIES:
        raise ConfigError(unknown_name("strategy", strategy, STRATEGIES, label="strategies"))
    if top < 1:
        raise ConfigError(f"--top must be at least 1, but got {top}")


def uncertainty(probabilities: np.ndarray, task: str, method: str = "margin") -> np.ndarray:
    """Per row, how unsure the model is, in [0, 1].

    ``margin``: one minus the gap between the two most probable classes. ``entropy``: the entropy of
    the predicted distribution over its maximum (log of the class count). A multilabel model predicts
    each label on its own, so both are taken per label (as a yes/no question) and averaged.
    """
    probabilities = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, 1.0)
    if task == "multilabel":
        per_label = np.stack([probabilities, 1.0 - probabilities], axis=-1)
        return np.asarray(uncertainty(per_label.reshape(-1, 2), "binary", method).reshape(per_label.shape[:2]).mean(1))
    if probabilities.shape[1] < 2:  # one class: nothing to be unsure about
        return np.zeros(len(probabilities))
    if method == "margin":
        top_two = -np.partition(-probabilities, 1, axis=1)[:, :2]
        return np.asarray(1.0 - (top_two[:, 0] - top_two[:, 1]))
    if method == "entropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(probabilities > 0, -probabilities * np.log(probabilities), 0.0)
        return np.asarray(terms.sum(axis=1) / np.log(probabilities.shape[1]))
    raise ConfigError(unknown_name("uncertainty method", method, ("margin", "entropy"), label="methods"))


def k_center_greedy(embeddings: np.ndarray, count: int, *, centers: np.ndarray | None = None) -> np.ndarray:
    """``count`` row positions of ``embeddings``, each the row farthest from every row picked so far and
    from ``centers`` (already labelled rows): the greedy 2-approximation of the k-center problem.

    Without ``centers`` the first pick is row 0, so a caller that orders rows by priority starts there.
    """
    points = np.asarray(embeddings, dtype=np.float64).reshape(len(embeddings), -1)
    count = min(count, len(points))
    nearest = np.full(len(points), np.inf)
    if centers is not None and len(centers):
        labelled = np.asarray(centers, dtype=np.float64).reshape(len(centers), -1)
        for start in range(0, len(labelled), _CHUNK):
            nearest = np.minimum(nearest, _distances(points, labelled[start : start + _CHUNK]).min(axis=1))
    picked: list[int] = []
    for _ in range(count):
        choice = int(np.argmax(nearest))  # the first row while every distance is still infinite
        picked.append(choice)
        nearest = np.minimum(nearest, _distances(points, points[choice : choice + 1])[:, 0])
        nearest[picked] = -np.inf
    return np.array(picked, dtype=np.int64)


def _distances(points: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Euclidean distances (points, others), through the expanded square (no (n, m, d) array)."""
    squared = (points**2).sum(1)[:, None] - 2.0 * points @ others.T + (others**2).sum(1)[None, :]
    return np.sqrt(np.maximum(squared, 0.0))


def rank_pool(
    strategy: str,
    probabilities: np.ndarray,
    task: str,
    top: int,
    *,
    embeddings: np.ndarray | None = None,
    labelled_embeddings: np.ndarray | None = None,
    seed: int = 0,
) -> Ranking:
    """The ``top`` pool rows to label next by ``strategy`` (one of :data:`STRATEGIES`).

    ``margin`` and ``entropy`` take the most uncertain rows. ``diverse`` takes the
    :data:`DIVERSE_CANDIDATES` × ``top`` most uncertain by margin, then picks among them by k-center
    greedy on ``embeddings`` (the model's, one row per pool row), counting ``labelled_embeddings``
    (the rows the model was trained on) as already covered. ``random`` draws ``top`` rows from ``seed``.
    """
    check_request(strategy, top)
    rows = len(probabilities)
    top = min(top, rows)
    method = "entropy" if strategy == "entropy" else "margin"
    unsure = uncertainty(probabilities, task, method)
    by_uncertainty = np.argsort(-unsure, kind="stable")
    if strategy == "random":
        picked = np.random.default_rng(seed).permutation(rows)[:top]
    elif strategy == "diverse":
        if embeddings is None or len(embeddings) != rows:
            raise ConfigError("strategy 'diverse' needs the model's embeddings of every pool row")
        candidates = by_uncertainty[: min(rows, DIVERSE_CANDIDATES * top)]
        picked = candidates[k_center_greedy(embeddings[candidates], top, centers=labelled_embeddings)]
    else:
        picked = by_uncertainty[:top]
    return Ranking(rows=picked.astype(np.int64), scores=unsure[picked])
