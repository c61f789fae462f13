"""Acquisition: margin and entropy order rows by doubt for every task, k-center greedy spreads its
picks, ``diverse`` skips near duplicates that margin takes, and every ranking repeats exactly."""

from __future__ import annotations

import re

import numpy as np
import pytest

from autosft.errors import ConfigError
from autosft.evaluate.acquisition import DIVERSE_CANDIDATES, k_center_greedy, rank_pool, uncertainty


def test_margin_and_entropy_put_the_closest_call_first() -> None:
    probabilities = np.array([[0.9, 0.1], [0.5, 0.5], [0.3, 0.7]])
    assert uncertainty(probabilities, "binary", "margin") == pytest.approx([0.2, 1.0, 0.6])
    entropy = uncertainty(probabilities, "binary", "entropy")
    assert entropy[1] == pytest.approx(1.0) and entropy[0] < entropy[2] < entropy[1]


def test_multiclass_margin_reads_the_two_most_probable_classes_and_entropy_all_of_them() -> None:
    # Same top two (0.5 vs 0.3), so the same margin; the second row spreads the rest, so more entropy.
    probabilities = np.array([[0.5, 0.3, 0.2, 0.0], [0.5, 0.3, 0.1, 0.1]])
    margin = uncertainty(probabilities, "multiclass", "margin")
    assert margin == pytest.approx([0.8, 0.8])
    entropy = uncertainty(probabilities, "multiclass", "entropy")
    assert entropy[1] > entropy[0] and np.all((entropy >= 0) & (entropy <= 1))
    uniform = np.full((1, 4), 0.25)
    assert uncertainty(uniform, "multiclass", "entropy") == pytest.approx([1.0])


def test_multilabel_rows_are_scored_per_label_and_averaged() -> None:
    # Sigmoids need not sum to one: each label is its own yes/no question.
    probabilities = np.array([[0.5, 0.5, 0.5], [1.0, 0.0, 0.5], [1.0, 0.0, 1.0]])
    for method in ("margin", "entropy"):
        scores = uncertainty(probabilities, "multilabel", method)
        assert scores == pytest.approx([1.0, 1 / 3, 0.0])


def test_k_center_greedy_takes_the_farthest_row_from_everything_covered() -> None:
    points = np.array([[0.0], [0.1], [10.0], [5.0], [10.1]])
    assert k_center_greedy(points, 3).tolist() == [0, 4, 3]  # row 0 first, then the farthest, then the middle
    # Labelled rows near 0 and 10 already cover those: the middle comes first.
    assert k_center_greedy(points, 1, centers=np.array([[0.0], [10.0]])).tolist() == [3]


def test_diverse_skips_near_duplicates_that_margin_takes() -> None:
    # Three copies of one uncertain row and three distinct rows almost as uncertain.
    probabilities = np.array([[0.5, 0.5]] * 3 + [[0.55, 0.45], [0.56, 0.44], [0.57, 0.43]] + [[0.99, 0.01]] * 6)
    embeddings = np.array([[0.0, 0.0]] * 3 + [[5.0, 0.0], [0.0, 5.0], [5.0, 5.0]] + [[9.0, 9.0]] * 6)
    assert rank_pool("margin", probabilities, "binary", 3).rows.tolist() == [0, 1, 2]
    diverse = rank_pool("diverse", probabilities, "binary", 3, embeddings=embeddings)
    assert len(set(diverse.rows.tolist()) & {0, 1, 2}) == 1
    assert set(diverse.rows.tolist()) <= set(range(DIVERSE_CANDIDATES * 3))
    assert diverse.scores == pytest.approx(uncertainty(probabilities, "binary")[diverse.rows])


def test_rankings_repeat_and_random_follows_its_seed() -> None:
    rng = np.random.default_rng(0)
    raw = rng.random((200, 3))
    probabilities = raw / raw.sum(axis=1, keepdims=True)
    embeddings = rng.normal(size=(200, 8))
    for strategy in ("margin", "entropy", "diverse", "random"):
        first = rank_pool(strategy, probabilities, "multiclass", 20, embeddings=embeddings, seed=3)
        again = rank_pool(strategy, probabilities, "multiclass", 20, embeddings=embeddings, seed=3)
        assert first.rows.tolist() == again.rows.tolist() and len(set(first.rows.tolist())) == 20
    other = rank_pool("random", probabilities, "multiclass", 20, seed=4)
    assert other.rows.tolist() != rank_pool("random", probabilities, "multiclass", 20, seed=3).rows.tolist()
    assert len(rank_pool("margin", probabilities, "multiclass", 500).rows) == 200  # at most the pool


@pytest.mark.parametrize(
    ("strategy", "top", "message"),
    [("margni", 5, "unknown strategy 'margni' (did you mean 'margin'?)"), ("margin", 0, "--top must be at least 1")],
)
def test_bad_requests_are_refused_in_one_line(strategy: str, top: int, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        rank_pool(strategy, np.full((4, 2), 0.5), "binary", top)
