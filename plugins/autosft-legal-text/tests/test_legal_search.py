"""A new study of a deep enough text encoder starts with a quick look on a frozen prefix, then the default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from legal_helpers import save_tiny_bert

from autosft.config import parse_study
from autosft.engine.cache import activation_cache
from autosft.plugins import get_plugin_manager
from autosft.search.controller import run_search
from autosft.search.plan import QUICK_LOOK_RATE_FACTOR, QUICK_LOOK_TRAINED_GROUPS
from autosft.search.prepare import prepare_study
from autosft.search.study import DEFAULT_TRIAL_ATTR, QUICK_LOOK_ATTR

#: Six layers: embeddings, six layers and the head make eight groups, as in all-MiniLM-L6-v2.
LAYERS = 6


@pytest.fixture(scope="module")
def six_layer_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("six-layer-bert"), layers=LAYERS)


def _config(table: Path, model: Path, storage: str, **changes: Any) -> Any:
    raw = {
        "name": "quick-look",
        "task": "binary",
        "dataset": {"name": "text_table", "options": {"path": str(table), "group_column": "doc",
                                                       "label_columns": ["unfair"]}},
        "model": {"name": "hf_text_classifier", "options": {"name_or_path": str(model), "max_length": 32}},
        "objective": {"metric": "f1"},
        "budget": {"n_trials": 3, "max_epochs": 2},
        "storage": storage,
        **changes,
    }  # fmt: skip
    return parse_study(raw, where="test")


def test_a_new_study_looks_quickly_on_a_frozen_prefix_then_trains_the_default(
    six_layer_bert: Path, clauses_csv: Path, tmp_path: Path
) -> None:
    # Without the built-in portfolio, whose entries would take the third place (and another depth).
    config = _config(clauses_csv, six_layer_bert, f"sqlite:///{tmp_path / 'study.db'}", search={"portfolio": False})
    outcome = run_search(config, final_test=False, check_data=False)
    quick, default, sampled = outcome.study.trials
    rate = outcome.prepared.space.dimensions["learning_rate"]
    assert quick.user_attrs[QUICK_LOOK_ATTR] is True and DEFAULT_TRIAL_ATTR not in quick.user_attrs
    assert quick.params == {**outcome.prepared.space.default_params(), "adaptation": "freeze", "unfreeze_every": 0,
                            "freeze_depth": LAYERS + 2 - 1 - QUICK_LOOK_TRAINED_GROUPS,
                            "learning_rate": min(rate.default * QUICK_LOOK_RATE_FACTOR, rate.high)}  # fmt: skip
    assert default.user_attrs[DEFAULT_TRIAL_ATTR] is True
    assert default.params == outcome.prepared.space.default_params()
    assert QUICK_LOOK_ATTR not in sampled.user_attrs and DEFAULT_TRIAL_ATTR not in sampled.user_attrs
    assert quick.state == default.state == optuna.trial.TrialState.COMPLETE
    assert len(quick.user_attrs["history"]) == default.user_attrs["plan"]["epochs"] == 2
    depth = quick.params["freeze_depth"]  # the quick look trained on cached activations of both splits
    assert {(key[2], key[-1]) for key in activation_cache().lru_order()} == {("train", depth), ("val", depth)}  # type: ignore[index]

    resumed = run_search(config, final_test=False, check_data=False)  # a resumed study starts nothing again
    flags = [bool(trial.user_attrs.get(QUICK_LOOK_ATTR)) for trial in resumed.study.trials]
    assert len(flags) == 6 and sum(flags) == 1


def test_a_one_trial_study_and_a_shallow_or_pinned_model_skip_the_quick_look(
    six_layer_bert: Path, tiny_bert: Path, clauses_csv: Path, tmp_path: Path
) -> None:
    one = _config(clauses_csv, six_layer_bert, f"sqlite:///{tmp_path / 'one.db'}",
                  budget={"n_trials": 1, "max_epochs": 1})  # fmt: skip
    (only,) = run_search(one, final_test=False, check_data=False).study.trials
    assert only.user_attrs[DEFAULT_TRIAL_ATTR] is True and only.params["adaptation"] == "full"
    manager = get_plugin_manager()
    unused = "sqlite:///unused.db"
    assert prepare_study(_config(clauses_csv, six_layer_bert, unused), manager).quick_look is not None
    assert prepare_study(_config(clauses_csv, tiny_bert, unused), manager).quick_look is None  # 3 layers: 5 groups
    pinned = {"adaptation": {"choices": ["full", "lora"]}}
    assert prepare_study(_config(clauses_csv, six_layer_bert, unused, search_space=pinned), manager).quick_look is None
    shallow_freeze = {"freeze_depth": {"low": 6, "high": 7}}
    assert prepare_study(_config(clauses_csv, six_layer_bert, unused, search_space=shallow_freeze),
                         manager).quick_look is None  # fmt: skip
