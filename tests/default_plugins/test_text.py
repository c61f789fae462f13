"""The built-in text components with autosft alone: a study on a CSV with ``hf_text_classifier``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from autosft import get_plugin_manager, run_search
from autosft.attrs import PORTFOLIO_ATTR
from autosft.config import parse_study
from autosft.registry import collect_registry
from autosft.testing import save_tiny_bert

POSITIVE = ["good", "great", "lovely", "fast", "helpful"]
NEGATIVE = ["bad", "awful", "slow", "broken", "rude"]
NEUTRAL = ["the", "service", "was", "and", "staff", "delivery", "product", "very"]


def reviews(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    """Support-ticket-like sentences whose label is whether a positive word outnumbers a negative one."""
    rng = np.random.default_rng(seed)
    records = []
    for _ in range(rows):
        label = int(rng.random() < 0.5)
        words = list(rng.choice(NEUTRAL, size=int(rng.integers(3, 8))))
        words += list(rng.choice(POSITIVE if label else NEGATIVE, size=2))
        rng.shuffle(words)
        records.append({"text": " ".join(words), "label": "positive" if label else "negative"})
    return pd.DataFrame(records)


@pytest.mark.usefixtures("only_autosft")
def test_autosft_alone_registers_the_text_and_image_components() -> None:
    registry = collect_registry(get_plugin_manager())
    assert "text_table" in registry.datasets.names()
    assert {"hf_text_classifier", "hf_image_classifier"} <= set(registry.models.names())
    assert registry.models.by_plugin()["autosft.text"] == ["hf_text_classifier"]
    assert registry.models.by_plugin()["autosft.vision"] == ["hf_image_classifier"]
    # The text model's portfolio ships with it, as package data, and says what it was learned on.
    assert registry.portfolios.plugin_of("hf_text_classifier") == "autosft.text"
    portfolio = registry.portfolios.get("hf_text_classifier")
    assert "learned on 2 tasks (legal-text, sms-spam)" in portfolio.description
    assert len(portfolio.configurations) >= 2


@pytest.mark.usefixtures("only_autosft")
def test_a_text_study_on_a_csv_runs_end_to_end_without_a_domain_plugin(tmp_path: Path) -> None:
    table = tmp_path / "tickets.csv"
    reviews().to_csv(table, index=False)
    checkpoint = save_tiny_bert(tmp_path / "bert", [*POSITIVE, *NEGATIVE, *NEUTRAL], layers=2, positions=32)
    config = parse_study(
        {
            "name": "tickets",
            "task": "binary",
            "dataset": {"name": "text_table", "options": {"path": str(table), "positive_class": "positive"}},
            "model": {"name": "hf_text_classifier", "options": {"name_or_path": str(checkpoint), "max_length": 16}},
            "objective": {"metric": "roc_auc"},
            "budget": {"n_trials": 4, "max_epochs": 2},
            "storage": f"sqlite:///{tmp_path / 'study.db'}",
            "seed": 0,
        },
        where="test",
    )
    outcome = run_search(config, manager=get_plugin_manager())
    finished = outcome.study.get_trials(states=[optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED])
    assert len(finished) == 4
    # After the two starting trials (quick look, default), half the budget goes to the built-in
    # portfolio's entries; its entry 0 is the default configuration, already tried.
    queued = [trial.user_attrs[PORTFOLIO_ATTR] for trial in finished if PORTFOLIO_ATTR in trial.user_attrs]
    assert queued == [{"model": "hf_text_classifier", "entry": 1}, {"model": "hf_text_classifier", "entry": 2}]
    assert outcome.prepared.splits.input_kind == "text"
    assert outcome.prepared.splits.class_names == ("negative", "positive")
    assert outcome.final_test is not None
    assert 0.0 <= outcome.final_test["test_metrics"]["roc_auc"] <= 1.0


def test_load_new_keeps_every_row_and_maps_labels_to_the_studys_classes(tmp_path: Path) -> None:
    from autosft.default_plugins.text.loader import TextTable
    from autosft.default_plugins.text.options import TextTableOptions

    study_table, new_table, unlabelled = tmp_path / "study.csv", tmp_path / "new.csv", tmp_path / "unlabelled.csv"
    reviews().to_csv(study_table, index=False)
    fresh = reviews(rows=50, seed=1)
    fresh.to_csv(new_table, index=False)
    fresh.drop(columns=["label"]).to_csv(unlabelled, index=False)
    options = TextTableOptions(path=study_table, positive_class="negative", max_train_rows=20)
    loader = TextTable()
    classes = loader.load(options, task="binary", seed=0).class_names
    assert classes == ("positive", "negative")

    rows = loader.load_new(options, new_table, task="binary", seed=0)
    assert list(rows.inputs) == fresh["text"].tolist()  # every row, in order: no split, no subsample
    assert rows.labels is not None
    assert [classes[label] for label in rows.labels] == fresh["label"].tolist()
    assert loader.load_new(options, unlabelled, task="binary", seed=0).labels is None


def test_text_table_keeps_a_metadata_column_beside_the_texts_as_slices(tmp_path: Path) -> None:
    from autosft.default_plugins.text.loader import TextTable
    from autosft.default_plugins.text.options import TextTableOptions

    table = reviews()
    table["source"] = np.where(np.arange(len(table)) % 3 == 0, "email", "chat")
    table.loc[5, "source"] = None
    path = tmp_path / "reviews.csv"
    table.to_csv(path, index=False)
    options = TextTableOptions(path=path, positive_class="positive", slice_columns=["source"])
    splits = TextTable().load(options, task="binary", seed=0)
    for part in ("train", "val", "test"):
        values = splits.slices[part]["source"]
        assert len(values) == len(getattr(splits, part))
        assert set(values) <= {"email", "chat", "(missing)"}
    assert not any("email" in text or "chat" in text for text in splits.val.inputs)  # not joined into the texts
    with pytest.raises(ValueError, match="slice column 'text' is also a text column"):
        TextTableOptions(path=path, slice_columns=["text"])
