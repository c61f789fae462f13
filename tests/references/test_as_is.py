"""The pre-trained model as is: a starting trial of zero epochs where the builder says its head fits
the task, scored like the reference of the same name, never pruned and never re-run for seeds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel

from autosft import hookimpl
from autosft.components import ModelBuilder, Splits
from autosft.config import parse_study
from autosft.evaluate.references import REFERENCES_ATTR
from autosft.evaluate.selection import RERUN_ATTR
from autosft.search.controller import run_search
from autosft.search.study import AS_IS_ATTR, DEFAULT_TRIAL_ATTR
from autosft.testing import ToyMLP, toy_manager, toy_study


class ReadyMLP(ToyMLP):
    """The toy MLP, declared ready as built (its random head stands in for a pre-trained one)."""

    name = "ready_mlp"

    def head_is_pretrained(self, options: BaseModel, splits: Splits) -> bool:
        return True


class ReadyPlugin:
    @hookimpl
    def autosft_register_models(self, register: Callable[[ModelBuilder], None]) -> None:
        register(ReadyMLP())


# With no pre-training population too: a checkpoint whose head already has the task's labels is ready as is.
@pytest.mark.parametrize("pretrain_rows", [100, 0])
def test_the_model_as_is_starts_the_study_trains_zero_epochs_and_is_not_rerun(
    tmp_path: Path, pretrain_rows: int
) -> None:
    raw = toy_study(f"sqlite:///{tmp_path / 'study.db'}", model={"name": "ready_mlp"},
                    budget={"n_trials": 3, "max_epochs": 2}, select={"top_k": 3, "seeds": 1})  # fmt: skip
    raw["dataset"]["options"]["pretrain_rows"] = pretrain_rows
    outcome = run_search(parse_study(raw, where="test"), manager=toy_manager(ReadyPlugin()), check_data=False)
    trials = outcome.study.trials
    as_is, default = trials[0], trials[1]
    assert as_is.user_attrs[AS_IS_ATTR] is True and default.user_attrs[DEFAULT_TRIAL_ATTR] is True
    assert as_is.user_attrs["plan"]["epochs"] == 0 and as_is.user_attrs["best_epoch"] == 0
    assert as_is.state.name == "COMPLETE" and as_is.last_step is None  # never reported to the pruner
    record = outcome.study.user_attrs[REFERENCES_ATTR]
    assert abs(as_is.values[0] - record["validation"]["pretrained_as_is"]["roc_auc"]) < 1e-6
    # Seeds re-run the other configurations, never the untrained model (the same scores with any seed).
    reruns = [trial.user_attrs[RERUN_ATTR]["of"] for trial in trials if RERUN_ATTR in trial.user_attrs]
    assert reruns and as_is.number not in reruns
