"""Loading Hugging Face classifiers for model builders: quiet loading, label maps, and a checkpoint kept once.

Pre-trained weights do not depend on the trial, so builders call ``from_pretrained`` once per process,
keep a :class:`Checkpoint`, and start each build from the stored config with the weights copied in.
Keys the checkpoint lacked or sized differently (the new classifier) stay as the fresh module drew
them from the trial's seed. transformers is imported only when loading, never on the CLI's path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from autosft.components import Splits

__all__ = ["Checkpoint", "class_labels", "quiet_transformers"]


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Loading prints a weight report and progress bars; a search prints its own lines instead."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def class_labels(splits: Splits) -> dict[str, Any]:
    """``num_labels``, ``id2label`` and ``label2id`` for a config, from the dataset's class names."""
    id2label = dict(enumerate(splits.class_names))
    return {"num_labels": splits.num_classes, "id2label": id2label, "label2id": {v: k for k, v in id2label.items()}}


@dataclass(frozen=True)
class Checkpoint:
    """A pre-trained model as loaded once: its config, weights, and the keys the checkpoint did not supply."""

    config: Any
    state: dict[str, torch.Tensor]
    fresh_keys: frozenset[str]

    @classmethod
    def loaded(cls, model: nn.Module, info: Mapping[str, Any]) -> Checkpoint:
        """From ``from_pretrained(..., output_loading_info=True)``'s model and info; the weights are copied."""
        fresh = set(info.get("missing_keys", ())) | {item[0] for item in info.get("mismatched_keys", ())}
        state = {name: value.detach().clone() for name, value in model.state_dict().items()}
        return cls(getattr(model, "config", None), state, frozenset(fresh))

    def copy_into(self, module: nn.Module) -> nn.Module:
        """``module`` with every pre-trained weight copied in (each build owns its weights); fresh keys untouched."""
        kept = {name: value for name, value in self.state.items() if name not in self.fresh_keys}
        module.load_state_dict(kept, strict=False)
        return module
