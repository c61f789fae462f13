"""What counts toward a study's trial budget: every trial, except one whose worker was lost."""

from __future__ import annotations

import optuna

from autosft.config import parse_study
from autosft.search.controller import run_search
from autosft.testing import toy_manager, toy_study

DIVERGING = {"learning_rate": {"value": 1e30}, "adaptation": {"value": "full"}, "batch_size": {"value": 16}}


def test_trials_that_fail_on_their_own_spend_the_budget(sqlite_url: str) -> None:
    study = toy_study(sqlite_url, search_space=DIVERGING, budget={"n_trials": 2, "max_epochs": 2})
    outcome = run_search(parse_study(study, where="t"), manager=toy_manager(), final_test=False)
    assert outcome.states == {"FAIL": 2}  # not 5: a failed configuration costs its slot
    assert len(optuna.load_study(study_name="toy", storage=sqlite_url).trials) == 2
