"""The built-in search space; a sampled configuration becomes a :class:`~autosft.contracts.TrialPlan`.

Declared here as data; the defaults form trial 0 (full fine-tuning at the model's default rate).
Which choices exist depends on the study: the model's layer groups bound ``freeze_depth``, its
LoRA target sets name ``lora_targets``, and only strategies and augmentations that fit the data's
input kind and task are offered.
"""

from __future__ import annotations

from typing import Any

import pluggy

from autosft.components import BuiltModel, ModelBuilder, Splits, is_skewed
from autosft.config import StudyConfig
from autosft.contracts import LORA_LEARNING_RATE
from autosft.registry import Registry
from autosft.space import Categorical, Condition, Float, Int, Limits, SearchSpace

__all__ = [
    "LORA_RATE_FACTOR", "QUICK_LOOK_RATE_FACTOR", "QUICK_LOOK_TRAINED_GROUPS",
    "build_search_space", "quick_look_params",
]  # fmt: skip

#: LoRA's best learning rate sits about ten times above full fine-tuning's, so it gets its own prior.
LORA_RATE_FACTOR = 10.0
#: The quick look trains this many groups below the head, on the cached output of the frozen rest.
QUICK_LOOK_TRAINED_GROUPS = 2
#: ... at this multiple of the default learning rate (capped by the range): like LoRA, a few
#: trainable layers and a new head learn at a higher rate than a whole network.
QUICK_LOOK_RATE_FACTOR = 10.0

#: What an override may ask of the built-in dimensions (:class:`~autosft.space.Limits`).
_POSITIVE = Limits(0, low_open=True)
_NON_NEGATIVE = Limits(0)
_AT_LEAST_ONE = Limits(1)
_FRACTION = Limits(0, 1, high_open=True)  # a dropout, smoothing or warm-up share of 1 leaves nothing


def build_search_space(
    study: StudyConfig,
    *,
    builder: ModelBuilder,
    built: BuiltModel,
    splits: Splits,
    registry: Registry,
    manager: pluggy.PluginManager,
) -> SearchSpace:
    """Declare the built-in dimensions, let plugins extend them, then apply the study's overrides."""
    space = SearchSpace()
    _add_adaptation(space, builder, built, max_epochs=study.budget.max_epochs)
    _add_schedule(space, builder, max_epochs=study.budget.max_epochs)
    _add_regularization(space)
    _add_data_strategies(space, splits, registry)
    manager.hook.autosft_extend_search_space(space=space, study=study)
    space.override(study.search_space)
    return space


def quick_look_params(space: SearchSpace, built: BuiltModel) -> dict[str, Any] | None:
    """The default configuration with all but the top groups frozen, as Optuna params: a cheap first trial.

    The frozen groups' output is computed once and cached (:mod:`autosft.engine.prefix`), so on a
    six-layer encoder the trial costs about a third of full fine-tuning and the study holds a usable
    model, and a bar for the pruner, within a minute; the full-fine-tuning default follows it. Search
    that starts from a low-cost configuration and moves to costlier ones reaches a good model sooner
    per unit of compute (the premise of FLAML's cost-frugal search). ``None`` where that trial would
    not be cheap or the study rules it out: a model without cached stages, one so shallow that
    freezing would keep fewer groups frozen than trained, or a space without that configuration.
    """
    depth = len(built.layer_groups) - 1 - QUICK_LOOK_TRAINED_GROUPS
    if built.stages is None or depth <= QUICK_LOOK_TRAINED_GROUPS:
        return None
    preferred: dict[str, Any] = {"adaptation": "freeze", "freeze_depth": depth, "unfreeze_every": 0}
    rate = space.dimensions.get("learning_rate")
    if isinstance(rate, Float):
        preferred["learning_rate"] = max(rate.low, min(rate.default * QUICK_LOOK_RATE_FACTOR, rate.high))
    return space.params_with(preferred)


def _add_adaptation(space: SearchSpace, builder: ModelBuilder, built: BuiltModel, *, max_epochs: int) -> None:
    low, default, high = builder.learning_rate
    freezable = len(built.layer_groups) - 1  # the head is never frozen
    modes = ["full"]
    if built.pretrained:
        modes += (["freeze"] if freezable >= 1 else []) + (["lora"] if built.lora_targets else [])
    space.add(Categorical("adaptation", tuple(modes), "full"))
    rate = Condition("adaptation", ("full", "freeze"))
    space.add(Float("learning_rate", low, high, default, log=True, condition=rate, limits=_POSITIVE))
    if "lora" in modes:
        lora = Condition("adaptation", ("lora",))
        factor = LORA_RATE_FACTOR
        space.add(Float(LORA_LEARNING_RATE, low * factor, high * factor, default * factor, log=True, condition=lora,
                        limits=_POSITIVE))  # fmt: skip
    if "freeze" in modes:
        freeze = Condition("adaptation", ("freeze",))
        space.add(Int("freeze_depth", 1, freezable, 1, condition=freeze, limits=Limits(1, freezable)))
        # Gradual unfreezing: every k epochs the deepest frozen group thaws; 0 keeps them frozen.
        space.add(Int("unfreeze_every", 0, max(1, max_epochs // 2), 0, condition=freeze, limits=_NON_NEGATIVE))
    if "lora" in modes:
        space.add(Categorical("lora_rank", (4, 8, 16, 32), 8, condition=lora, limits=_AT_LEAST_ONE))
        space.add(Categorical("lora_alpha", (8, 16, 32, 64), 16, condition=lora, limits=_POSITIVE))
        space.add(Float("lora_dropout", 0.0, 0.3, 0.05, condition=lora, limits=_FRACTION))
        targets = tuple(built.lora_targets)
        space.add(Categorical("lora_targets", targets, targets[0], condition=lora))


def _add_schedule(space: SearchSpace, builder: ModelBuilder, *, max_epochs: int) -> None:
    sizes = tuple(builder.batch_sizes)
    space.add(Categorical("batch_size", sizes, builder.default_batch_size, limits=_AT_LEAST_ONE))
    space.add(Int("epochs", min(2, max_epochs), max_epochs, max_epochs, limits=_AT_LEAST_ONE))
    space.add(Float("warmup_ratio", 0.0, 0.2, 0.06, limits=_FRACTION))


def _add_regularization(space: SearchSpace) -> None:
    space.add(Float("weight_decay", 0.0, 0.3, 0.01, limits=_NON_NEGATIVE))
    space.add(Float("dropout", 0.0, 0.5, 0.1, limits=_FRACTION))
    space.add(Float("label_smoothing", 0.0, 0.2, 0.0, limits=_FRACTION))
    space.add(Int("patience", 1, 5, 3, limits=_AT_LEAST_ONE))


def _add_data_strategies(space: SearchSpace, splits: Splits, registry: Registry) -> None:
    strategies = tuple(
        strategy.name
        for strategy in registry.imbalance.values()
        if splits.task in strategy.task_types
        and (strategy.input_kinds is None or splits.input_kind in strategy.input_kinds)
    )
    if strategies:
        space.add(Categorical("imbalance", strategies, _default_strategy(strategies, splits)))
    fitting = [a for a in registry.augmentations.values() if splits.input_kind in a.input_kinds]
    offered = tuple(a.name for a in fitting if not a.opt_in)
    opt_in = tuple(a.name for a in fitting if a.opt_in)
    space.add(Categorical("augmentation", ("none", *offered), "none", also_allowed=opt_in))
    if fitting:
        names = (*offered, *opt_in)
        strength = Condition("augmentation", names)
        space.add(Float("augmentation_strength", 0.0, 1.0, 0.5, condition=strength, limits=Limits(0, 1)))


def _default_strategy(strategies: tuple[str, ...], splits: Splits) -> str:
    """``class_weights`` for a skewed single-label split (:func:`~autosft.components.is_skewed`), else ``none``."""
    skewed = splits.task in ("binary", "multiclass") and is_skewed(splits.train.labels, splits.num_classes)
    if skewed and "class_weights" in strategies:
        return "class_weights"
    return "none" if "none" in strategies else strategies[0]
