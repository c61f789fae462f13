"""Reading a torch module tree for model builders: which parts hold weights, and where the list of layers is.

Hugging Face models in every domain (text encoders, vision backbones) keep their repeated layers in
the shallowest ``nn.ModuleList`` of some child of the base model, whatever that child is called
(``encoder.layer``, ``encoder.stages``, ``transformer.layer``). Plugins that turn such a model into
layer groups share these readers rather than each walking the tree its own way.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

__all__ = ["Structure", "has_parameters", "shallowest_layers"]


@dataclass(frozen=True)
class Structure:
    """What a builder reads off a model: layer groups input→output, LoRA target sets, head module names."""

    layer_groups: list[list[str]]
    lora_targets: dict[str, list[str]]
    head: list[str]


def has_parameters(module: nn.Module) -> bool:
    """Whether ``module`` or anything under it holds a parameter (activations and dropouts hold none)."""
    return any(True for _ in module.parameters())


def shallowest_layers(module: nn.Module, name: str, *, with_parameters_only: bool = False) -> list[str] | None:
    """Qualified names of the items of the shallowest non-empty ModuleList under ``module`` (itself included).

    ``name`` is ``module``'s own qualified name. Breadth first, so a layer's inner lists (a block's
    sub-layers) never win over the list of layers itself. ``with_parameters_only`` leaves out items
    with no weights (a stage that only downsamples by pooling), which could not be a layer group.
    None when there is no such list.
    """
    frontier = [(name, module)]
    while frontier:
        for path, candidate in frontier:
            if isinstance(candidate, nn.ModuleList) and len(candidate) > 0:
                return [
                    f"{path}.{index}"
                    for index, item in enumerate(candidate)
                    if not with_parameters_only or has_parameters(item)
                ]
        frontier = [
            (f"{path}.{child_name}", child)
            for path, parent in frontier
            for child_name, child in parent.named_children()
        ]
    return None
