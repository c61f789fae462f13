"""Portfolios (`autosft_register_portfolios`): a new study tries its model builder's portfolio right
after its starting trials, moved into its space, in place of random start-up trials; a study can turn
it off; a bad portfolio is named."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from typer.testing import CliRunner

from autosft.attrs import DEFAULT_TRIAL_ATTR, PORTFOLIO_ATTR, WARM_START_ATTR
from autosft.cli import build_app
from autosft.config import parse_study
from autosft.errors import PluginError
from autosft.hookspecs import hookimpl
from autosft.portfolios import Portfolio, Weights, load_portfolio
from autosft.progress import describe_trial
from autosft.registry import collect_registry
from autosft.search.controller import run_search
from autosft.testing import toy_manager, toy_study

#: Full fine-tuning at twice the default rate; the default configuration again, which the study
#: already has queued; LoRA (rate left at the default); a rate far above any study's range.
ENTRIES = (
    {"adaptation": "full", "learning_rate": 2.0, "weight_decay": 0.1},
    {},
    {"adaptation": "lora", "lora_rank": 4, "dropout": 0.0},
    {"adaptation": "full", "learning_rate": 1e6},
)


class PortfolioPlugin:
    def __init__(self, entries: tuple[dict[str, Any], ...] = ENTRIES, weights: Weights | None = None) -> None:
        self.entries = entries
        self.weights = weights

    @hookimpl
    def autosft_register_portfolios(self, register: Callable[[Portfolio], None]) -> None:
        register(Portfolio("toy_mlp", self.entries, source="a test", weights=self.weights))


def _run(tmp_path: Path, notices: list[str] | None = None, plugin: PortfolioPlugin | None = None,
         **overrides: Any) -> Any:  # fmt: skip
    study = toy_study(f"sqlite:///{tmp_path / 'p.db'}", **{"budget": {"n_trials": 6, "max_epochs": 2}, **overrides})
    return run_search(parse_study(study, where="t"), manager=toy_manager(plugin or PortfolioPlugin()),
                      final_test=False, on_notice=None if notices is None else notices.append)  # fmt: skip


def test_a_new_study_tries_the_portfolio_after_its_starting_trials(tmp_path: Path) -> None:
    notices: list[str] = []
    outcome = _run(tmp_path, notices)
    trials = outcome.study.trials
    assert trials[0].user_attrs[DEFAULT_TRIAL_ATTR] is True
    space = outcome.prepared.space
    rate = space.dimensions["learning_rate"]
    # Entry 0: its rate is twice the default; entry 1 equals the default, still waiting in the queue,
    # and is skipped; entry 2: LoRA at the defaults it does not name; entry 3: the rate moves to the
    # top of the range. Half the budget (3 places) is what the portfolio may take.
    portfolio = trials[1:4]
    assert [t.user_attrs[PORTFOLIO_ATTR] for t in portfolio] == [
        {"model": "toy_mlp", "entry": 0}, {"model": "toy_mlp", "entry": 2}, {"model": "toy_mlp", "entry": 3},
    ]  # fmt: skip
    assert portfolio[0].params["learning_rate"] == pytest.approx(2 * rate.default)
    assert portfolio[0].params["weight_decay"] == pytest.approx(0.1)
    assert portfolio[1].params["adaptation"] == "lora" and portfolio[1].params["lora_rank"] == 4
    assert portfolio[2].params["learning_rate"] == pytest.approx(rate.high)
    assert all(PORTFOLIO_ATTR not in t.user_attrs for t in trials[4:])  # the sampler's own
    assert notices == [
        "3 configuration(s) of the toy_mlp portfolio (learned on a test) queued after the starting trials"
    ]
    assert "(portfolio: toy_mlp entry 2)" in describe_trial(portfolio[1], "roc_auc")


def test_a_study_can_turn_the_portfolio_off_and_a_resumed_study_never_queues_it_again(tmp_path: Path) -> None:
    two = {"n_trials": 2, "max_epochs": 1}  # one place for the portfolio after the default
    off = _run(tmp_path, name="off", search={"portfolio": False}, budget=two)
    assert not any(PORTFOLIO_ATTR in t.user_attrs for t in off.study.trials)
    _run(tmp_path, name="twice", budget=two)
    resumed = _run(tmp_path, name="twice", budget=two)
    tagged = [t.user_attrs[PORTFOLIO_ATTR]["entry"] for t in resumed.study.trials if PORTFOLIO_ATTR in t.user_attrs]
    assert len(resumed.study.trials) == 4 and tagged == [0]


def test_load_portfolio_reads_package_data_and_names_a_bad_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "shipped"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "good.json").write_text(json.dumps({"model": "toy_mlp", "source": "s", "configurations": [{}],
                                                   "weights": "random", "learned": {"tasks": ["a"]}}))  # fmt: skip
    (package / "bad.json").write_text(json.dumps({"configurations": {}}))
    (package / "rate.json").write_text(json.dumps({"model": "toy_mlp", "configurations": [{"learning_rate": -1}]}))
    (package / "weights.json").write_text(json.dumps({"model": "toy_mlp", "configurations": [], "weights": "imagenet"}))
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded = load_portfolio("shipped", "good.json")
    assert (loaded.name, loaded.configurations, loaded.info) == ("toy_mlp", ({},), {"learned": {"tasks": ["a"]}})
    assert loaded.weights == "random" and "(models from random weights)" in loaded.description
    with pytest.raises(PluginError, match="portfolio file 'bad.json' of package 'shipped' must hold"):
        load_portfolio("shipped", "bad.json")
    with pytest.raises(PluginError, match="cannot be read"):
        load_portfolio("shipped", "missing.json")
    with pytest.raises(PluginError, match="positive multiple of the study's default rate"):
        load_portfolio("shipped", "rate.json")
    with pytest.raises(PluginError, match="weights is 'imagenet'; it is 'pretrained', 'random' or left out"):
        load_portfolio("shipped", "weights.json")


def test_a_portfolio_learned_on_the_other_kind_of_weights_is_left_out_in_one_line(tmp_path: Path) -> None:
    # The toy model starts from pre-trained weights (BuiltModel.pretrained); configurations measured on
    # models trained from random weights (higher rates, other regularization) would misguide its start.
    notices: list[str] = []
    scratch = _run(tmp_path, notices, PortfolioPlugin(weights="random"), name="scratch")
    assert not any(PORTFOLIO_ATTR in t.user_attrs for t in scratch.study.trials)
    assert notices == [
        "the toy_mlp portfolio was learned on models from random weights and this study's model starts from "
        "pre-trained ones, so none of it is queued"
    ]
    fine_tuned = _run(tmp_path, None, PortfolioPlugin(weights="pretrained"), name="fine-tuned")
    assert sum(PORTFOLIO_ATTR in t.user_attrs for t in fine_tuned.study.trials) == 3


def test_two_portfolios_for_one_model_builder_are_refused() -> None:
    with pytest.raises(PluginError, match="portfolio name 'toy_mlp' is registered by both"):
        collect_registry(toy_manager(PortfolioPlugin(), PortfolioPlugin()))


def test_a_study_can_name_its_own_portfolio_file_and_a_bad_one_is_one_line(tmp_path: Path) -> None:
    learned = tmp_path / "ours.json"
    learned.write_text(json.dumps({"model": "toy_mlp", "source": "our tasks", "configurations": [{"dropout": 0.3}]}))
    outcome = _run(tmp_path, search={"portfolio": str(learned)}, budget={"n_trials": 2, "max_epochs": 1})
    named = outcome.study.trials[1]
    assert named.user_attrs[PORTFOLIO_ATTR] == {"model": "toy_mlp", "entry": 0}
    assert named.params["dropout"] == pytest.approx(0.3)

    other = tmp_path / "other.json"
    other.write_text(json.dumps({"model": "tabular_mlp", "configurations": []}))
    for path, reason in ((other, "is a portfolio of model 'tabular_mlp', but this study's model is 'toy_mlp'"),
                         (tmp_path / "missing.json", "cannot be read: No such file or directory")):  # fmt: skip
        study = tmp_path / f"{path.stem}.yaml"
        study.write_text(yaml.safe_dump(toy_study(f"sqlite:///{tmp_path / 'v.db'}", search={"portfolio": str(path)})))
        result = CliRunner().invoke(build_app(toy_manager()), ["validate", str(study)])
        assert result.exit_code == 2
        assert result.output.strip() == f"error: search.portfolio: {path} {reason}"


def test_the_portfolio_fills_only_the_samplers_own_start_up_window(tmp_path: Path) -> None:
    # Half of 6 trials would be 3 places; TPE told to start modelling after 2 trials leaves 1 after the default.
    outcome = _run(tmp_path, sampler={"name": "tpe", "options": {"n_startup_trials": 2}})
    tagged = [t.user_attrs[PORTFOLIO_ATTR]["entry"] for t in outcome.study.trials if PORTFOLIO_ATTR in t.user_attrs]
    assert tagged == [0]


def test_the_portfolio_never_queues_more_than_the_budget_can_run(tmp_path: Path) -> None:
    # A warm start of 3 after the default fills a budget of 4: half the budget would leave 2 places,
    # whose trials would wait in the queue and jump ahead of the sampler in the next run.
    _run(tmp_path, name="jan", search={"portfolio": False}, budget={"n_trials": 4, "max_epochs": 1})
    feb = _run(tmp_path, name="feb", budget={"n_trials": 4, "max_epochs": 1},
               warm_start={"studies": ["jan"], "top_k": 3})  # fmt: skip
    trials = feb.study.trials
    assert len(trials) == 4 and all(t.state != optuna.trial.TrialState.WAITING for t in trials)
    assert sum(PORTFOLIO_ATTR in t.user_attrs for t in trials) == 4 - 1 - sum(
        WARM_START_ATTR in t.user_attrs for t in trials
    )
