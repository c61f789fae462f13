"""The references a fine-tuned recommender is read against: popularity and the pre-trained model as is."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from autosft_retail_recsys.baselines import baseline_scores, popularity_scores
from retail_helpers import log_options

from autosft.components import DataSplit
from autosft.config import parse_study
from autosft.evaluate.references import REFERENCES_ATTR
from autosft.plugins import get_plugin_manager
from autosft.search.controller import run_search
from autosft.search.prepare import PreparedStudy, prepare_study
from autosft.search.study import AS_IS_ATTR


def _prepared(log_file: Path) -> PreparedStudy:
    """A tiny ranking study on the log, prepared (pre-trained) as a search would."""
    study = {
        "name": "s", "task": "ranking", "storage": "sqlite:///unused.db",
        "dataset": {"name": "interactions", "options": log_options(log_file)},
        "model": {"name": "next_item_transformer", "options": {"dim": 16, "pretrain_epochs": 1}},
        "objective": {"metric": "ndcg@10"},
    }  # fmt: skip
    return prepare_study(parse_study(study, where="s"), get_plugin_manager())


def test_popularity_ranks_by_training_purchases_and_masks_the_history_where_flagged(log_file: Path) -> None:
    prepared = _prepared(log_file)
    splits = prepared.splits
    counts = np.bincount(splits.train.labels, minlength=splits.num_classes)
    rows = DataSplit(
        {"items": np.array([[0, 3, 1], [0, 3, 1]]), "exclude_seen": np.array([False, True])}, np.array([0, 1])
    )
    scores = popularity_scores(splits, rows)
    assert np.array_equal(scores[0], counts)
    assert scores[1, 2] == scores[1, 0] == -1  # tokens 3 and 1 are items 2 and 0
    assert np.array_equal(np.delete(scores[1], [0, 2]), np.delete(counts, [0, 2]))

    result, skipped = baseline_scores(prepared)
    assert not skipped
    for name in ("popularity", "pretrained_as_is"):
        for part in ("val", "test"):
            assert 0 <= result[name][part]["ndcg@10"] <= result[name][part]["hit_rate@10"] <= 1
    # FR customers buy only FR items, which segment popularity knows: far above random (10 of 30 items).
    assert result["popularity"]["test"]["hit_rate@10"] > 0.5


def test_without_a_pre_training_population_the_model_as_is_is_skipped_not_called_pretrained(log_file: Path) -> None:
    prepared = _prepared(log_file)
    # A loader without a source population: the builder would start from random weights.
    prepared = dataclasses.replace(prepared, splits=dataclasses.replace(prepared.splits, pretrain=None))
    assert not prepared.builder.head_is_pretrained(prepared.model_options, prepared.splits)
    result, skipped = baseline_scores(prepared)
    assert set(result) == {"popularity"}
    assert skipped == {
        "pretrained_as_is": "model 'next_item_transformer' has no head pre-trained for this task, "
        "so as is it would guess; the dataset has no pre-training population"
    }


def test_a_ranking_study_holds_the_model_as_is_as_a_trial_beside_popularity(log_file: Path, tmp_path: Path) -> None:
    study = {
        "name": "as-is", "task": "ranking", "storage": f"sqlite:///{tmp_path / 'study.db'}",
        "dataset": {"name": "interactions", "options": log_options(log_file)},
        "model": {"name": "next_item_transformer", "options": {"dim": 16, "pretrain_epochs": 1}},
        "objective": {"metric": "ndcg@10"}, "budget": {"n_trials": 2, "max_epochs": 1},
    }  # fmt: skip
    outcome = run_search(parse_study(study, where="s"), check_data=False)
    as_is = outcome.study.trials[0]
    assert as_is.user_attrs[AS_IS_ATTR] is True and as_is.user_attrs["plan"]["epochs"] == 0
    record = outcome.study.user_attrs[REFERENCES_ATTR]
    assert set(record["validation"]) == {"popularity", "pretrained_as_is"}
    assert as_is.values[0] == pytest.approx(record["validation"]["pretrained_as_is"]["ndcg@10"], abs=1e-6)
    final = outcome.final_test
    assert final is not None and set(final["references"]["references"]) == {"popularity", "pretrained_as_is"}
