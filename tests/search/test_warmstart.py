"""Warm start (`warm_start` in the study file): a new study tries an earlier study's best
configurations right after its starting trials, moved into its own space, and never again on
resume; a study it cannot start from is one line, an error or a notice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest

from autosft.attrs import DEFAULT_TRIAL_ATTR, WARM_START_ATTR
from autosft.config import parse_study
from autosft.errors import ConfigError
from autosft.hookspecs import hookimpl
from autosft.progress import describe_trial
from autosft.search.controller import run_search
from autosft.testing import ToyMLP, toy_manager, toy_study

#: The earlier study pins weight_decay, which the new one searches (its default: 0.01); the new one
#: narrows the learning rate below some of the earlier study's best rates.
#: January pins full fine-tuning (every trial then has a learning rate to clamp) and a weight decay.
JAN = {
    "budget": {"n_trials": 5, "max_epochs": 3},
    "search_space": {"weight_decay": {"value": 0.05}, "adaptation": {"value": "full"}},
}
FEB_RATE_HIGH = 3e-3


@pytest.fixture(scope="module")
def january(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, optuna.Study]:
    """Last month's study, run once for the module: its storage URL and the study."""
    url = f"sqlite:///{tmp_path_factory.mktemp('warm') / 'studies.db'}"
    outcome = run_search(parse_study(toy_study(url, name="jan", **JAN), where="t"), manager=toy_manager(),
                         final_test=False)  # fmt: skip
    return url, outcome.study


def _february(url: str, **overrides: Any) -> Any:
    """This month's study: other data from the same source (the toy loader draws another sample with
    another seed), a narrower learning rate, warm-started from January."""
    study = toy_study(url, name="feb", seed=1, budget={"n_trials": 4, "max_epochs": 3},
                      search_space={"learning_rate": {"low": 1e-4, "high": FEB_RATE_HIGH}},
                      warm_start={"studies": ["jan"], "top_k": 3})  # fmt: skip
    return parse_study({**study, **overrides}, where="t")


def _recorder() -> tuple[list[str], Callable[[str], None]]:
    notices: list[str] = []
    return notices, notices.append


def test_a_new_study_first_tries_the_earlier_studys_best_configurations(
    january: tuple[str, optuna.Study], tmp_path: Path
) -> None:
    url, jan = january
    notices, notice = _recorder()
    feb = run_search(_february(url), manager=toy_manager(), final_test=False, on_notice=notice)
    default = feb.study.trials[0]
    assert default.user_attrs[DEFAULT_TRIAL_ATTR] is True  # the starting trial comes first

    # January's complete trials, best first, moved into February's space by hand: a rate above
    # February's range takes its top, what January pinned takes February's default.
    ranked = sorted(jan.get_trials(states=(optuna.trial.TrialState.COMPLETE,)), key=lambda t: -t.values[0])
    assert any(t.params["learning_rate"] > FEB_RATE_HIGH for t in ranked[:3]), "no best trial to clamp"
    expected: list[tuple[int, dict[str, Any]]] = []
    for trial in ranked:
        moved = {**trial.params, "learning_rate": min(trial.params["learning_rate"], FEB_RATE_HIGH),
                 "weight_decay": 0.01, "adaptation": "full"}  # fmt: skip
        if len(expected) < 3 and moved != default.params and moved not in [params for _, params in expected]:
            expected.append((trial.number, moved))
    warm = feb.study.trials[1:4]
    assert [(t.user_attrs[WARM_START_ATTR]["trial"], t.params) for t in warm] == expected
    assert all(t.user_attrs[WARM_START_ATTR]["study"] == "jan" for t in warm)
    numbers = ", ".join(str(number) for number, _ in expected)
    assert notices == [f"3 configuration(s) queued after the starting trials: study 'jan' trial(s) {numbers}"]
    # The trial line (progress, worker) says where each came from.
    assert f"(warm start: trial {expected[0][0]} of study 'jan')" in describe_trial(warm[0], "roc_auc")

    # Resuming runs sampled trials: the warm start is never queued again.
    again = run_search(_february(url, budget={"n_trials": 2, "max_epochs": 3}), manager=toy_manager(),
                       final_test=False, on_notice=notice)  # fmt: skip
    assert again.trial_numbers == [4, 5]
    assert sum(WARM_START_ATTR in t.user_attrs for t in again.study.trials) == 3
    assert len(notices) == 1


class _WideToy(ToyMLP):
    name = "toy_mlp_wide"


class _WidePlugin:
    @hookimpl
    def autosft_register_models(self, register: Callable[[ToyMLP], None]) -> None:
        register(_WideToy())


OTHER_PROBLEMS = {
    "model": ({"model": {"name": "toy_mlp_wide"}},
              "is of model 'toy_mlp' and task 'binary', but this study is of model 'toy_mlp_wide' and task 'binary'"),
    "task": ({"task": "multiclass", "dataset": {"name": "toy_blobs", "options": {"rows": 300, "classes": 3}}},
             "is of model 'toy_mlp' and task 'binary', but this study is of model 'toy_mlp' and task 'multiclass'"),
    "missing": ({}, "warm_start: no study 'dec' in sqlite:///"),
}  # fmt: skip


@pytest.mark.parametrize("case", OTHER_PROBLEMS)
def test_a_study_to_start_from_that_is_missing_or_of_another_problem_is_one_line(
    january: tuple[str, optuna.Study], tmp_path: Path, case: str
) -> None:
    url, _ = january
    overrides, message = OTHER_PROBLEMS[case]
    # This month's study in a storage of its own; January's storage named by `warm_start.storage`.
    own = f"sqlite:///{tmp_path / 'feb.db'}"
    names = ["jan", "dec"] if case == "missing" else ["jan"]
    config = _february(own, warm_start={"studies": names, "storage": url}, **overrides)
    with pytest.raises(ConfigError) as raised:
        run_search(config, manager=toy_manager(_WidePlugin()), final_test=False)
    assert message in str(raised.value) and "\n" not in str(raised.value)
    if case == "missing":
        assert "studies there: jan" in str(raised.value)
    else:
        assert str(raised.value).startswith(f"warm_start: study 'jan' in {url} is of model")
    assert "feb" not in optuna.get_all_study_names(own)  # refused before the new study was created


def test_an_earlier_study_without_a_complete_trial_is_a_notice(sqlite_url: str) -> None:
    # A study whose only trial failed (a learning rate no model trains with) has nothing to teach.
    broken = toy_study(sqlite_url, name="jan", budget={"n_trials": 1, "max_epochs": 2},
                       search_space={"learning_rate": {"value": 1e30}, "adaptation": {"value": "full"}})  # fmt: skip
    assert run_search(parse_study(broken, where="t"), manager=toy_manager()).states == {"FAIL": 1}
    notices, notice = _recorder()
    feb = run_search(_february(sqlite_url, budget={"n_trials": 1, "max_epochs": 2}), manager=toy_manager(),
                     final_test=False, on_notice=notice)  # fmt: skip
    assert notices == ["study 'jan' has no complete trial: nothing to warm-start from"]
    assert [WARM_START_ATTR in t.user_attrs for t in feb.study.trials] == [False]
