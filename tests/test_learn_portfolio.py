"""benchmarks/learn_portfolio.py's greedy construction: each pick adds the most to the mean over tasks
of the portfolio's best scaled score, so complementary configurations beat a second all-rounder; once
nothing adds, the best mean fills the places left."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from autosft.space import Fixed, Float, SearchSpace
from tests.conftest import load_benchmark

learn = load_benchmark("learn_portfolio")


def test_greedy_construction_picks_complementary_configurations() -> None:
    # Rows: candidates; columns: tasks. 0 is a good all-rounder; 1 and 2 are each best on one half; 3 is
    # a near-copy of 0. Scaled per task, 0 comes first; then 1 and 2 each fill a half 0 is weak on,
    # while 3 adds nothing and is never picked.
    scores = np.array([[0.80, 0.80, 0.80, 0.80], [0.90, 0.90, 0.60, 0.60], [0.60, 0.60, 0.90, 0.90],
                       [0.79, 0.80, 0.80, 0.79]])  # fmt: skip
    quality = learn.scaled(scores)
    assert quality.min(axis=0).tolist() == [0.0] * 4 and quality.max(axis=0).tolist() == [1.0] * 4
    picked = learn.greedy_portfolio(quality, size=3)
    assert picked[0] == 0 and set(picked[1:]) == {1, 2}


def test_once_every_task_has_its_best_the_places_left_go_to_the_best_mean() -> None:
    # With one task (a builder with few datasets, learned without one of them) the first pick covers
    # everything; the rest follow the mean scaled score, not the row order.
    quality = learn.scaled(np.array([[0.60], [0.90], [0.70], [0.80], [0.50]]))
    assert learn.greedy_portfolio(quality, size=3) == [1, 3, 2]
    assert learn.greedy_portfolio(quality, size=9) == [1, 3, 2, 0, 4]  # never more than the candidates


def test_a_failed_run_scores_zero_and_rates_become_multiples_of_the_default() -> None:
    quality = learn.scaled(np.array([[0.5, math.nan], [0.7, 0.6], [0.6, 0.8]]))
    assert quality[0, 1] == 0.0 and quality[2, 1] == pytest.approx(1.0)
    space = SearchSpace()
    space.add(Fixed("adaptation", "freeze"))  # pinned by the task's study: part of what was measured
    space.add(Float("learning_rate", 1e-4, 1e-1, 1e-3, log=True))
    space.add(Float("dropout", 0.0, 0.5, 0.1))
    space.add(Fixed("lora_learning_rate", 1e-4))  # a pinned rate: the new study's own default stands
    assert learn.relative_entry(space, {"learning_rate": 3e-3, "dropout": 0.2, "gone": 1}) == {
        "adaptation": "freeze", "learning_rate": 3.0, "dropout": 0.2,
    }  # fmt: skip


def test_leaving_a_task_out_drops_its_column_and_the_candidates_only_it_gave() -> None:
    # The default (no origin) stays; candidate 2 came from both tasks, so it stays without "b" too.
    meta = learn.MetaDataset(
        tasks=["a", "b"], candidates=[{}, {"dropout": 0.1}, {"dropout": 0.2}, {"dropout": 0.3}],
        origins=[[], ["a"], ["a", "b"], ["b"]], matrix=np.array([[0.5, 0.6], [0.7, 0.1], [0.6, 0.8], [0.2, 0.9]]),
        trials_per_task=4,
    )  # fmt: skip
    without_b = meta.without({"b"})
    assert without_b.tasks == ["a"] and without_b.candidates == [{}, {"dropout": 0.1}, {"dropout": 0.2}]
    assert without_b.matrix.tolist() == [[0.5], [0.7], [0.6]]
    meta.matrix[1, 1] = math.nan  # a failed run survives the JSON round trip as NaN
    again = learn.MetaDataset.from_json(json.loads(json.dumps(meta.to_json())))
    assert again.origins == meta.origins and np.array_equal(again.matrix, meta.matrix, equal_nan=True)
    portfolio = learn.portfolio_from(without_b, model="tabular_mlp", size=2)
    assert portfolio["model"] == "tabular_mlp" and portfolio["configurations"][0] == {"dropout": 0.1}
