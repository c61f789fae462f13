"""The binary ranking metrics computed directly give scikit-learn's numbers, ties included, and say
"undefined" (ValueError or NaN) where scikit-learn's would be meaningless."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from autosft.default_plugins.metrics import binary_average_precision, binary_roc_auc


@pytest.mark.parametrize("distinct_scores", [3, 20, None])
def test_ranking_metrics_match_scikit_learn_with_and_without_ties(distinct_scores: int | None) -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        rows = int(rng.integers(5, 300))
        labels = rng.integers(0, 2, rows)
        labels[:2] = [0, 1]  # both classes present
        scores = rng.random(rows) if distinct_scores is None else rng.integers(0, distinct_scores, rows) / 10
        assert binary_roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
        assert binary_average_precision(labels, scores) == pytest.approx(
            average_precision_score(labels, scores), abs=1e-12
        )


def test_one_class_is_undefined() -> None:
    with pytest.raises(ValueError, match="both classes"):
        binary_roc_auc(np.zeros(4), np.arange(4.0))
    assert math.isnan(binary_average_precision(np.zeros(4), np.arange(4.0)))
    assert binary_average_precision(np.ones(4), np.arange(4.0)) == 1.0
