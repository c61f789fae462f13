"""Reading a text classifier's module tree: layer groups for freezing, LoRA target sets, the head.

Hugging Face encoder classifiers share one shape: a base model (``model.<base_model_prefix>``)
holding embeddings, a list of transformer layers and sometimes a pooler, and a classification head
beside it. Groups follow that order: the embeddings, then one group per layer, then the pooler
joined with the head, so the last group is what always trains.

LoRA target sets are named by the projections they adapt, recognised by leaf name across BERT,
RoBERTa, DistilBERT, DeBERTa and similar encoders.
"""

from __future__ import annotations

from torch import nn

from autosft.engine.structure import Structure, has_parameters, shallowest_layers
from autosft.errors import ConfigError

__all__ = ["KEY_NAMES", "QUERY_NAMES", "VALUE_NAMES", "Structure", "describe"]

QUERY_NAMES = frozenset({"query", "q_proj", "q_lin", "query_proj", "q"})
KEY_NAMES = frozenset({"key", "k_proj", "k_lin", "key_proj", "k"})
VALUE_NAMES = frozenset({"value", "v_proj", "v_lin", "value_proj", "v"})


def describe(model: nn.Module) -> Structure:
    """Layer groups (embeddings, each layer, pooler + head), LoRA target sets and head of ``model``."""
    prefix = getattr(model, "base_model_prefix", "")
    base = getattr(model, prefix, None) if prefix else None
    if not isinstance(base, nn.Module) or base is model:
        raise ConfigError(f"{type(model).__name__} has no base encoder model; it is not a text encoder classifier")
    head = [name for name, child in model.named_children() if child is not base and has_parameters(child)]
    before: list[str] = []
    layers: list[str] | None = None
    after: list[str] = []
    for name, child in base.named_children():
        if not has_parameters(child):
            continue
        found = None if layers else shallowest_layers(child, f"{prefix}.{name}")
        if found:
            layers = found
        else:
            (after if layers else before).append(f"{prefix}.{name}")
    if not layers or not before:
        raise ConfigError(f"{type(model).__name__} shows no embeddings followed by a list of layers")
    groups = [before, *([layer] for layer in layers), after + head]
    return Structure(groups, _lora_targets(model, layers), head)


def _lora_targets(model: nn.Module, layers: list[str]) -> dict[str, list[str]]:
    query, key, value, dense = [], [], [], []
    for name, module in model.named_modules():
        if not isinstance(module, nn.Linear) or not any(name.startswith(f"{layer}.") for layer in layers):
            continue
        leaf = name.rsplit(".", 1)[-1]
        if leaf in QUERY_NAMES:
            query.append(name)
        elif leaf in KEY_NAMES:
            key.append(name)
        elif leaf in VALUE_NAMES:
            value.append(name)
        else:
            dense.append(name)
    sets = {
        "query_value": query + value,
        "query_key_value": query + key + value,
        "all_linear": query + key + value + dense,
        "dense": dense,
    }
    return {name: sorted(targets) for name, targets in sets.items() if targets}
