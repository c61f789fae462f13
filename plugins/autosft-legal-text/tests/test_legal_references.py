"""TF-IDF + logistic regression on the raw sentences of a text study, while the model sees token ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from legal_helpers import save_tiny_bert

from autosft.config import parse_study
from autosft.evaluate.references import validate_references
from autosft.plugins import get_plugin_manager
from autosft.search.prepare import prepare_study


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("bert"))


def test_tfidf_fits_on_the_loaders_texts_not_the_token_ids(clauses_csv: Path, tiny_bert: Path) -> None:
    study = {
        "name": "legal-references", "task": "binary", "storage": "sqlite:///unused.db",
        "dataset": {"name": "text_table", "options": {"path": str(clauses_csv), "group_column": "doc",
                                                       "label_columns": ["unfair"]}},
        "model": {"name": "hf_text_classifier", "options": {"name_or_path": str(tiny_bert), "max_length": 32}},
        "objective": {"metric": "f1"},
    }  # fmt: skip
    prepared = prepare_study(parse_study(study, where="test"), get_plugin_manager())
    splits = prepared.splits
    assert "input_ids" in splits.train.inputs  # the model's view: token ids
    assert isinstance(splits.raw_inputs["train"][0], str) and len(splits.raw_inputs["val"]) == len(splits.val)
    record, _ = validate_references(prepared)
    # A sentence is unfair exactly when it names a category word: a bag of words finds it.
    assert record["validation"]["tfidf_logistic_regression"]["roc_auc"] > 0.9
    assert record["validation"]["class_prior"]["roc_auc"] == 0.5
    assert not {"logistic_regression", "pixels_logistic_regression"} & set(record["validation"])  # other kinds
    assert np.isfinite(record["seconds"]["tfidf_logistic_regression"])
