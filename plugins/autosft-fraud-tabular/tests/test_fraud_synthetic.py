"""The ``synthetic_fraud`` dataset: deterministic, rare positives, segments, learnable, fast."""

from __future__ import annotations

import time

import numpy as np
import pytest
from autosft_fraud_tabular.synthetic import SyntheticFraudDataset, SyntheticFraudOptions, generate_fraud_table
from pydantic import ValidationError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from autosft.errors import ConfigError


def test_the_table_is_deterministic_under_its_seed() -> None:
    options = SyntheticFraudOptions(n_rows=2000)
    assert generate_fraud_table(options).equals(generate_fraud_table(options))
    other = generate_fraud_table(SyntheticFraudOptions(n_rows=2000, data_seed=1))
    assert not other.equals(generate_fraud_table(options))


def test_loading_is_deterministic_and_the_split_follows_the_study_seed() -> None:
    first = SyntheticFraudDataset().load(SyntheticFraudOptions(), task="binary", seed=0)
    again = SyntheticFraudDataset().load(SyntheticFraudOptions(), task="binary", seed=0)
    other = SyntheticFraudDataset().load(SyntheticFraudOptions(), task="binary", seed=1)
    assert first.fingerprint == again.fingerprint != other.fingerprint
    assert np.array_equal(first.test.inputs, again.test.inputs)
    assert not np.array_equal(first.test.inputs, other.test.inputs)


@pytest.mark.parametrize("rate", [0.01, 0.03, 0.2])
def test_positive_rate_is_as_requested(rate: float) -> None:
    frame = generate_fraud_table(SyntheticFraudOptions(n_rows=8000, positive_rate=rate))
    assert frame["is_fraud"].mean() == pytest.approx(rate, abs=0.002)
    per_segment = frame.groupby("segment")["is_fraud"].mean()
    assert per_segment.between(rate - 0.003, rate + 0.003).all()


def test_columns_follow_the_options() -> None:
    frame = generate_fraud_table(SyntheticFraudOptions(n_rows=500, n_numeric=4, n_categorical=2, n_segments=5))
    assert list(frame.columns) == [
        "amount",
        "num_1",
        "num_2",
        "num_3",
        "cat_0",
        "cat_1",
        "segment",
        "is_fraud",
    ]
    assert sorted(frame["segment"].unique()) == [f"seg_{index}" for index in range(5)]
    assert frame["num_1"].isna().any()
    assert frame["cat_0"].isna().any()
    assert (frame["amount"] > 0).all()


def test_target_segment_is_fine_tuned_and_the_rest_pretrains() -> None:
    splits = SyntheticFraudDataset().load(SyntheticFraudOptions(target_segment="seg_2"), task="binary", seed=0)
    frame = generate_fraud_table(SyntheticFraudOptions())
    target_rows = int((frame["segment"] == "seg_2").sum())
    rows = splits.info["rows"]
    assert rows["train"] + rows["val"] + rows["test"] == target_rows
    assert rows["pretrain"] == len(frame) - target_rows
    assert splits.input_kind == "tabular"
    assert splits.class_names == ("0", "1")
    assert splits.train.inputs.dtype == np.float32


def test_a_single_segment_has_no_pretrain_population() -> None:
    splits = SyntheticFraudDataset().load(SyntheticFraudOptions(n_segments=1), task="binary", seed=0)
    assert splits.pretrain is None


def test_it_is_learnable_but_not_trivial() -> None:
    splits = SyntheticFraudDataset().load(SyntheticFraudOptions(n_rows=20000), task="binary", seed=0)
    model = LogisticRegression(max_iter=2000).fit(splits.train.inputs, splits.train.labels)
    inputs = np.concatenate([splits.val.inputs, splits.test.inputs])
    labels = np.concatenate([splits.val.labels, splits.test.labels])
    auc = roc_auc_score(labels, model.predict_proba(inputs)[:, 1])
    assert 0.75 < auc < 0.97


def test_default_size_loads_in_seconds() -> None:
    """0.3 s measured on two cores loaded 4x: the bound catches a blow-up, not a busy machine."""
    SyntheticFraudDataset().load(SyntheticFraudOptions(n_rows=2000), task="binary", seed=0)  # warm imports
    start = time.perf_counter()
    SyntheticFraudDataset().load(SyntheticFraudOptions(), task="binary", seed=0)
    assert time.perf_counter() - start < 5.0


def test_options_and_task_are_checked() -> None:
    with pytest.raises(ValidationError, match="target_segment 'seg_9' is not one of seg_0, seg_1"):
        SyntheticFraudOptions(n_segments=2, target_segment="seg_9")
    with pytest.raises(ConfigError, match=r"binary labels.*'multiclass'"):
        SyntheticFraudDataset().load(SyntheticFraudOptions(), task="multiclass", seed=0)
