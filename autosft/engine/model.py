"""Adapting a built model to a trial's plan: dropout override, freezing, gradual unfreezing, LoRA.

Freezing works on the builder's layer groups, counted from the input side; frozen groups also run
in eval mode, so their dropout is off and their normalization statistics stay those of
pre-training. LoRA goes through peft for any model whose builder names target modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from autosft.components import BuiltModel
from autosft.contracts import TrialPlan
from autosft.errors import ConfigError, PluginError

__all__ = ["AdaptedModel", "adapt_model"]


@dataclass
class AdaptedModel:
    """The module a trial trains, with the groups still frozen (input side first)."""

    module: nn.Module
    frozen_groups: list[list[str]] = field(default_factory=list)
    lora: bool = False

    def train_mode(self) -> None:
        """Training mode for what learns; frozen groups stay in eval mode."""
        self.module.train()
        for group in self.frozen_groups:
            for name in group:
                self.module.get_submodule(name).eval()

    def unfreeze_next(self) -> list[str] | None:
        """Thaw the frozen group nearest the output (gradual unfreezing); ``None`` if none is left."""
        if not self.frozen_groups:
            return None
        group = self.frozen_groups.pop()
        for name in group:
            self.module.get_submodule(name).requires_grad_(True)
        return group

    def parameter_counts(self) -> tuple[int, int]:
        """(trainable, total) parameters right now."""
        total = trainable = 0
        for parameter in self.module.parameters():
            total += parameter.numel()
            trainable += parameter.numel() if parameter.requires_grad else 0
        return trainable, total


def adapt_model(built: BuiltModel, plan: TrialPlan) -> AdaptedModel:
    """Apply the plan's dropout and adaptation mode to a freshly built model."""
    module = built.module
    for submodule in module.modules():
        if isinstance(submodule, nn.Dropout):
            submodule.p = plan.dropout
    if plan.adaptation == "full":
        return AdaptedModel(module)
    if plan.adaptation == "freeze":
        if not 1 <= plan.freeze_depth < len(built.layer_groups):
            raise ConfigError(
                f"freeze_depth must lie in [1, {len(built.layer_groups) - 1}] for this model "
                f"(its last layer group is the head), but got {plan.freeze_depth}"
            )
        frozen = [list(group) for group in built.layer_groups[: plan.freeze_depth]]
        for group in frozen:
            for name in group:
                _submodule(module, name).requires_grad_(False)
        return AdaptedModel(module, frozen)
    if plan.adaptation == "lora":
        return AdaptedModel(_with_lora(built, plan), lora=True)
    raise ConfigError(f"unknown adaptation {plan.adaptation!r}; valid: full, freeze, lora")


def _submodule(module: nn.Module, name: str) -> nn.Module:
    try:
        return module.get_submodule(name)
    except AttributeError:
        raise PluginError(f"the model builder names layer {name!r}, which the model does not have") from None


def _with_lora(built: BuiltModel, plan: TrialPlan) -> nn.Module:
    from peft import LoraConfig, get_peft_model

    if plan.lora_targets not in built.lora_targets:
        valid = ", ".join(built.lora_targets) or "none"
        raise ConfigError(f"unknown lora_targets {plan.lora_targets!r}; this model offers: {valid}")
    config = LoraConfig(
        r=plan.lora_rank,
        lora_alpha=plan.lora_alpha,
        lora_dropout=plan.lora_dropout,
        target_modules=list(built.lora_targets[plan.lora_targets]),
        modules_to_save=list(built.head) or None,
    )
    return get_peft_model(built.module, config)
