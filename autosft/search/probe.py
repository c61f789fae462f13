"""Checks of a built model against what its builder declares, before any trial runs.

A layer group or LoRA target naming a module the model lacks, or logits of the wrong width, would
otherwise fail every freeze, LoRA or any trial alike, each with a bare traceback; here they fail
once, naming the model, its plugin and the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from autosft.components import BuiltModel, Splits
from autosft.errors import PluginError

__all__ = ["check_forward", "check_structure"]

#: Validation rows the forward pass of `autosft validate` runs on.
PROBE_ROWS = 4


def check_structure(built: BuiltModel, model: str, plugin: str) -> None:
    """Every layer group and LoRA target names a module of ``built.module``."""
    names = [name for name, _ in built.module.named_modules() if name]
    present = set(names)
    for group in built.layer_groups:
        for name in group:
            if name not in present:
                raise PluginError(f"model {model!r} of plugin {plugin!r}: layer group names {name!r}, which the "
                                  f"model does not have{_closest(name, names)}")  # fmt: skip
    for target_set, targets in built.lora_targets.items():
        for target in targets:
            if not any(name == target or name.endswith(f".{target}") for name in names):
                raise PluginError(f"model {model!r} of plugin {plugin!r}: LoRA target set {target_set!r} names "
                                  f"{target!r}, which matches no module{_closest(target, names)}")  # fmt: skip


def check_forward(built: BuiltModel, splits: Splits, model: str, plugin: str) -> None:
    """A forward pass on a few validation rows gives logits of shape (rows, classes)."""
    import torch

    from autosft.engine.staging import model_logits

    inputs = _first_rows(splits.val.inputs, PROBE_ROWS)
    rows = len(splits.val.labels[:PROBE_ROWS])
    built.module.eval()
    try:
        with torch.no_grad():
            logits = model_logits(built.module, inputs)
    except Exception as error:  # any failure here would fail every trial: name the model instead
        raise PluginError(f"model {model!r} of plugin {plugin!r}: a forward pass on {rows} validation rows "
                          f"fails: {type(error).__name__}: {error}") from error  # fmt: skip
    expected = (rows, splits.num_classes)
    if tuple(logits.shape) != expected:
        raise PluginError(
            f"model {model!r} of plugin {plugin!r}: {rows} rows give logits of shape {tuple(logits.shape)}, "
            f"expected {expected} (one logit per class, 2 for binary)"
        )


def _first_rows(inputs: Any, rows: int) -> Any:
    import torch

    if isinstance(inputs, Mapping):
        return {key: torch.as_tensor(value[:rows]) for key, value in inputs.items()}
    return torch.as_tensor(inputs[:rows])


def _closest(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
