"""Reading a vision classifier's module tree: layer groups for freezing, LoRA target sets, the head.

Hugging Face image classifiers share one shape: a base model (``model.<base_model_prefix>``) whose
children run from the input side (an embedder or stem) through a list of blocks (ResNet and ConvNeXt
stages, ViT layers, Swin stages) to final norms, and a classifier beside it. Groups follow that
order, one per block, with the final norms joining the head so the last group is what always
trains. A model without that shape falls back to its top-level children in order.
"""

from __future__ import annotations

from torch import nn

from autosft.engine.structure import Structure, has_parameters, shallowest_layers

__all__ = ["ATTENTION_NAMES", "Structure", "describe"]

#: Leaf names of attention projections across Hugging Face vision models (ViT, DeiT, BEiT, Swin, ...).
ATTENTION_NAMES = frozenset({"query", "key", "value", "q_proj", "k_proj", "v_proj", "qkv", "q", "k", "v"})


def _groups(model: nn.Module) -> tuple[list[list[str]], list[str]]:
    """(layer groups input→output, head module names)."""
    prefix = getattr(model, "base_model_prefix", "")
    base = getattr(model, prefix, None) if prefix else None
    children = [(name, child) for name, child in model.named_children() if has_parameters(child)]
    if not isinstance(base, nn.Module) or base is model:
        names = [name for name, _ in children]
        return [[name] for name in names], names[-1:]
    head = [name for name, child in children if child is not base]
    groups: list[list[str]] = []
    tail: list[str] = []  # children after the last block list (final norms): they join the head
    after_blocks = False
    for name, child in base.named_children():
        if not has_parameters(child):
            continue
        blocks = shallowest_layers(child, f"{prefix}.{name}", with_parameters_only=True)
        if blocks:
            groups.extend([item] for item in [*tail, *blocks])
            tail, after_blocks = [], True
        elif after_blocks:
            tail.append(f"{prefix}.{name}")
        else:
            groups.append([f"{prefix}.{name}"])
    groups.append(tail + head)
    return groups, head


def describe(model: nn.Module) -> Structure:
    """Layer groups, LoRA target sets (only the non-empty ones) and head of an image classifier."""
    groups, head = _groups(model)

    def in_head(name: str) -> bool:
        return any(name == owner or name.startswith(f"{owner}.") for owner in head)

    attention, linear, conv = [], [], []
    for name, module in model.named_modules():
        if not name or in_head(name):
            continue
        if isinstance(module, nn.Linear):
            linear.append(name)
            if name.rsplit(".", 1)[-1] in ATTENTION_NAMES:
                attention.append(name)
        # peft's LoRA handles plain convolutions; grouped (depthwise) ones it refuses or mis-sizes.
        elif isinstance(module, nn.Conv2d) and module.groups == 1:
            conv.append(name)
    targets = {"attention": attention, "linear": linear, "conv": conv}
    return Structure(groups, {name: names for name, names in targets.items() if names}, head)
