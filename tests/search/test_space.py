"""The search space: built-in dimensions, conditional children, overrides, the default trial."""

from __future__ import annotations

import optuna
import pytest

from autosft.components import Augmentation
from autosft.config import DimensionOverride, parse_study
from autosft.contracts import TrialPlan
from autosft.errors import ConfigError, PluginError
from autosft.hookspecs import hookimpl
from autosft.search.prepare import prepare_study
from autosft.space import Categorical, Condition, Float, SearchSpace
from autosft.testing import toy_manager, toy_study


def _prepared(**overrides):
    return prepare_study(parse_study(toy_study("sqlite:///unused.db", **overrides), where="s"), toy_manager())


def _sample(space: SearchSpace, n: int, seed: int = 0) -> list[dict]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    samples = []
    for _ in range(n):
        trial = study.ask()
        samples.append(space.sample(trial))
        study.tell(trial, 0.0)
    return samples


def test_conditional_children_appear_only_under_their_parent() -> None:
    space = _prepared().space
    for values in _sample(space, 60):
        mode = values["adaptation"]
        assert ("freeze_depth" in values) == (mode == "freeze")
        assert ("unfreeze_every" in values) == (mode == "freeze")
        assert ("lora_rank" in values) == (mode == "lora")
        assert ("lora_learning_rate" in values) == (mode == "lora")
        assert ("learning_rate" in values) == (mode != "lora")
        if mode == "freeze":
            assert 1 <= values["freeze_depth"] <= 3  # toy_mlp: input, 2 blocks, head
        assert ("augmentation_strength" in values) == (values["augmentation"] != "none")


@pytest.mark.parametrize(("positive_rate", "imbalance"), [(0.5, "none"), (0.4, "none"), (0.1, "class_weights")])
def test_default_configuration_is_full_fine_tuning_at_the_model_default(positive_rate: float, imbalance: str) -> None:
    prepared = _prepared(dataset={"name": "toy_blobs", "options": {"rows": 300, "positive_rate": positive_rate}})
    params = prepared.space.default_params()
    assert params["adaptation"] == "full"
    assert params["learning_rate"] == 3e-3  # toy_mlp's declared default
    assert "freeze_depth" not in params and "lora_rank" not in params
    plan = TrialPlan.from_values(params, seed=0)
    # A rare class (here 10 % of the rows, 3x or more below the commonest) starts from class weights.
    assert plan.imbalance == imbalance and plan.augmentation == "none"


def test_a_skewed_study_without_class_weights_starts_from_none() -> None:
    narrowed = _prepared(
        dataset={"name": "toy_blobs", "options": {"rows": 300, "positive_rate": 0.1}},
        search_space={"imbalance": {"choices": ["none", "oversample"]}},
    )
    assert narrowed.space.default_params()["imbalance"] == "none"


def test_lora_plan_takes_the_lora_rate() -> None:
    plan = TrialPlan.from_values(
        {"adaptation": "lora", "lora_learning_rate": 0.02, "batch_size": 16, "epochs": 2, "warmup_ratio": 0.0,
         "weight_decay": 0.0, "dropout": 0.0, "label_smoothing": 0.0, "patience": 1, "my_plugin_dim": 3},
        seed=1,
    )  # fmt: skip
    assert plan.learning_rate == 0.02
    assert plan.extra == {"my_plugin_dim": 3}


def test_overrides_fix_restrict_and_reject() -> None:
    space = _prepared(
        search_space={
            "adaptation": {"choices": ["lora"]},
            "batch_size": {"value": 16},
            "learning_rate": {"low": 1e-3, "high": 1e-2},
        }
    ).space
    for values in _sample(space, 10):
        assert values["adaptation"] == "lora" and values["batch_size"] == 16
    assert space.dimensions["learning_rate"].log  # a range override keeps the dimension's log scale
    assert "batch_size" not in space.default_params()  # fixed values are not Optuna params
    with pytest.raises(ConfigError, match="search_space.adaptation: unknown choice\\(s\\) \\['partial'\\]"):
        _prepared(search_space={"adaptation": {"choices": ["partial"]}})
    with pytest.raises(ConfigError, match="search_space.learnign_rate: unknown dimension; valid names: adaptation"):
        _prepared(search_space={"learnign_rate": {"value": 0.1}})
    with pytest.raises(ConfigError, match="categorical dimension takes `choices` or `value`"):
        _prepared(search_space={"batch_size": {"low": 1, "high": 3}})
    with pytest.raises(ConfigError, match="whole-number"):
        _prepared(search_space={"epochs": {"low": 1.5, "high": 3}})


def test_override_validates_log_against_the_dimension() -> None:
    space = SearchSpace()
    space.add(Float("rate", 1e-4, 1e-2, 1e-3, log=True))
    with pytest.raises(ConfigError, match="a log range needs `low > 0`"):
        space.override({"rate": DimensionOverride(low=0.0, high=0.1)})


def test_children_must_follow_their_parent() -> None:
    space = SearchSpace()
    with pytest.raises(PluginError, match="depends on 'mode', which is not declared before it"):
        space.add(Categorical("child", (1, 2), 1, condition=Condition("mode", ("a",))))
    space.add(Categorical("mode", ("a", "b"), "a"))
    with pytest.raises(PluginError, match="declared twice"):
        space.add(Categorical("mode", ("a",), "a"))


class Blur(Augmentation):
    """A real (trivial) tabular augmentation that studies must ask for by name."""

    name = "blur"
    input_kinds = frozenset({"tabular"})
    opt_in = True

    def apply(self, inputs, targets, *, strength, generator):
        return inputs * (1 - strength), targets


class BlurPlugin:
    @hookimpl
    def autosft_register_augmentations(self, register) -> None:
        register(Blur())


def test_opt_in_augmentations_are_offered_only_when_named() -> None:
    config = parse_study(toy_study("sqlite:///unused.db"), where="s")
    default = prepare_study(config, toy_manager(BlurPlugin())).space.dimensions["augmentation"]
    assert isinstance(default, Categorical) and "blur" not in default.choices
    named = parse_study(toy_study("sqlite:///unused.db", search_space={"augmentation": {"choices": ["none", "blur"]}}),
                        where="s")  # fmt: skip
    space = prepare_study(named, toy_manager(BlurPlugin())).space
    assert space.dimensions["augmentation"].choices == ("none", "blur")
    assert any("augmentation_strength" in values for values in _sample(space, 10))
    with pytest.raises(ConfigError, match="unknown choice\\(s\\) \\['blurr'\\]; valid choices here: none, blur"):
        prepare_study(parse_study(toy_study("sqlite:///unused.db", search_space={"augmentation": {"value": "blurr"}}),
                                  where="s"), toy_manager(BlurPlugin()))  # fmt: skip


def test_values_of_a_trial_pin_every_active_dimension() -> None:
    space = _prepared(search_space={"batch_size": {"value": 16}}).space
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=4))
    for _ in range(20):
        trial = study.ask()
        sampled = space.sample(trial)
        study.tell(trial, 0.0)
        assert space.values_of(study.trials[-1].params) == sampled  # fixed batch_size included
    pinned = SearchSpace(dict(space.dimensions))
    pinned.override({name: DimensionOverride(value=value) for name, value in sampled.items()})
    assert pinned.default_params() == {} and pinned.values_of({}) == sampled  # nothing left to search
    with pytest.raises(ConfigError, match="no value for search dimension 'adaptation'"):
        space.values_of({})


def test_params_with_prefers_what_the_space_allows_and_refuses_the_rest() -> None:
    space = _prepared(search_space={"batch_size": {"value": 16}, "epochs": {"low": 1, "high": 3}}).space
    assert space.params_with({}) == space.default_params()
    frozen = space.params_with({"adaptation": "freeze", "freeze_depth": 2, "learning_rate": 1e-2})
    assert frozen is not None
    assert frozen == {**space.default_params(), "adaptation": "freeze", "freeze_depth": 2, "unfreeze_every": 0,
                      "learning_rate": 1e-2}  # fmt: skip
    assert space.params_with({"lora_rank": 32}) == space.default_params()  # inactive under full: ignored
    assert space.params_with({"batch_size": 16}) is not None  # the study's own fixed value
    for refused in ({"batch_size": 32}, {"epochs": 4}, {"epochs": 2.5}, {"freeze_depth": 9, "adaptation": "freeze"},
                    {"adaptation": "partial"}, {"learning_rate": "fast"}):  # fmt: skip
        assert space.params_with(refused) is None, refused


def test_nearest_params_moves_another_studys_trial_into_the_space() -> None:
    space = _prepared(search_space={"batch_size": {"value": 16}, "epochs": {"low": 1, "high": 3},
                                    "dropout": {"low": 0, "high": 0.3, "step": 0.1},
                                    "adaptation": {"choices": ["full", "freeze"]}}).space  # fmt: skip
    default = space.default_params()
    assert space.nearest_params({}) == default
    # Out of range: to the nearest bound (on the step grid); a missing choice: the default, and its
    # children go with it; the pinned batch size is no parameter.
    lora = {"adaptation": "lora", "lora_rank": 8, "learning_rate": 0.5, "epochs": 9, "dropout": 0.27, "batch_size": 64}
    assert space.nearest_params(lora) == {**default, "learning_rate": 0.03, "epochs": 3, "dropout": 0.3}
    frozen = {"adaptation": "freeze", "freeze_depth": 9, "unfreeze_every": -1, "learning_rate": "fast",
              "epochs": 2.4, "dropout": 0.04, "weight_decay": float("nan")}  # fmt: skip
    assert space.nearest_params(frozen) == {**default, "adaptation": "freeze", "freeze_depth": 3, "unfreeze_every": 0,
                                            "epochs": 2, "dropout": 0.0}  # fmt: skip


IMPOSSIBLE_OVERRIDES = [
    ({"batch_size": {"choices": ["abc"]}}, "batch_size takes whole numbers, but got 'abc'"),
    ({"batch_size": {"value": 0}}, "`1 <= value` must hold for batch_size, but got 0"),
    ({"batch_size": {"value": True}}, "batch_size takes whole numbers, but got True"),
    ({"dropout": {"value": 1.5}}, "`0 <= value < 1` must hold for dropout, but got 1.5"),
    ({"learning_rate": {"value": -1}}, "`0 < value` must hold for learning_rate, but got -1"),
    ({"epochs": {"low": 0, "high": 0}}, "`1 <= value` must hold for epochs, but got 0"),
    ({"dropout": {"low": 0, "high": float("nan")}}, "search_space.dropout.high: Input should be a finite number"),
    ({"learning_rate": {"low": 1e-4, "high": float("inf")}}, "learning_rate.high: Input should be a finite number"),
    ({"dropout": {"value": float("nan")}}, "dropout takes finite numbers, but got nan"),
    ({"weight_decay": {"choices": [0.0, "lots"]}}, "weight_decay takes numbers, but got 'lots'"),
]


@pytest.mark.parametrize(("override", "message"), IMPOSSIBLE_OVERRIDES)
def test_each_dimension_refuses_values_it_can_never_take(override: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _prepared(search_space=override)
    assert message in str(raised.value)


def test_values_within_the_limits_but_outside_the_default_range_are_taken() -> None:
    space = _prepared(search_space={"dropout": {"value": 0.7}, "batch_size": {"choices": [3, 7]}}).space
    assert space.dimensions["dropout"].default == 0.7
    assert space.dimensions["batch_size"].choices == (3, 7)
