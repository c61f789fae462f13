"""The study's sampler: TPE's random start-up is sized to the budget, unless the study file sets it."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from autosft.config import parse_study
from autosft.search.study import open_study
from autosft.testing import toy_study


def _models_after(finished: int, **overrides: Any) -> bool:
    """Whether the TPE of an 8-trial study, opened as `autosft search` opens it, proposes from its
    model (rather than at random) once ``finished`` trials are done."""
    config = parse_study(toy_study("sqlite://", budget={"n_trials": 8}, **overrides), where="t")
    study = open_study(config, storage=optuna.storages.InMemoryStorage(), storage_url=config.storage,
                       directions=["maximize"], sampler_seed=0)  # fmt: skip
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1) - trial.suggest_float("y", 0, 1), n_trials=finished)
    study.ask()
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))[0]
    sampler = study.sampler
    # A relative (model-based) proposal is empty while the sampler is still in its random start-up.
    return sampler.sample_relative(study, running, sampler.infer_relative_search_space(study, running)) != {}


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_an_8_trial_study_models_after_two_trials_not_ten() -> None:
    # 8 // 4 = 2 finished trials (the starting trials count): Optuna's default would wait for 10.
    assert not _models_after(1)
    assert _models_after(2)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_the_study_files_start_up_wins() -> None:
    explicit = {"sampler": {"name": "tpe", "options": {"n_startup_trials": 5}}}
    assert not _models_after(4, **explicit)
    assert _models_after(5, **explicit)
