"""The references a fine-tuned recommender is read against: popularity and the pre-trained model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from autosft_retail_recsys.baselines import baseline_scores, popularity_scores
from retail_helpers import log_options

from autosft.components import DataSplit
from autosft.config import parse_study
from autosft.plugins import get_plugin_manager
from autosft.search.prepare import prepare_study


def test_popularity_ranks_by_training_purchases_and_masks_the_history_where_flagged(log_file: Path) -> None:
    study = {
        "name": "s", "task": "ranking", "storage": "sqlite:///unused.db",
        "dataset": {"name": "interactions", "options": log_options(log_file)},
        "model": {"name": "next_item_transformer", "options": {"dim": 16, "pretrain_epochs": 1}},
        "objective": {"metric": "ndcg@10"},
    }  # fmt: skip
    prepared = prepare_study(parse_study(study, where="s"), get_plugin_manager())
    splits = prepared.splits
    counts = np.bincount(splits.train.labels, minlength=splits.num_classes)
    rows = DataSplit(
        {"items": np.array([[0, 3, 1], [0, 3, 1]]), "exclude_seen": np.array([False, True])}, np.array([0, 1])
    )
    scores = popularity_scores(splits, rows)
    assert np.array_equal(scores[0], counts)
    assert scores[1, 2] == scores[1, 0] == -1  # tokens 3 and 1 are items 2 and 0
    assert np.array_equal(np.delete(scores[1], [0, 2]), np.delete(counts, [0, 2]))

    result = baseline_scores(prepared)
    for name in ("popularity", "pretrained"):
        for part in ("val", "test"):
            assert 0 <= result[name][part]["ndcg@10"] <= result[name][part]["hit_rate@10"] <= 1
    # FR customers buy only FR items, which segment popularity knows: far above random (10 of 30 items).
    assert result["popularity"]["test"]["hit_rate@10"] > 0.5
