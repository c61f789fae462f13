"""An exported model on disk, in its native format, and loading it back.

Hugging Face models are written with ``save_pretrained`` (reloadable without autosft); other
torch modules as a safetensors ``state_dict``, whose architecture is rebuilt from the export's
``best_config.yaml`` by the same model builder. A LoRA model is written as its base model plus
the peft adapter (``base/`` and ``adapter/``), and, when asked, also merged into plain weights
(``merged/``) for serving without peft. ``model.json`` says which of these the folder holds, the
task, and the temperature that calibrates the logits (1 when the export is not calibrated).

:func:`load_model` gives the native module, whose logits are the model as trained;
:func:`load_exported` gives it with the task and temperature, and its ``predict`` returns the
calibrated probabilities the export reported, through the export's own code path.
"""

from __future__ import annotations

import copy
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pluggy
import torch
from torch import nn

from autosft.components import DataSplit
from autosft.config import StudyConfig, load_study_file
from autosft.engine.data import to_device_split
from autosft.engine.device import pick_device
from autosft.engine.loop import predict
from autosft.errors import ConfigError
from autosft.registry import collect_registry
from autosft.search.prepare import check_components

__all__ = ["MODEL_DESCRIPTION", "ExportedModel", "load_exported", "load_model", "save_model"]

#: The loader description inside an export folder.
MODEL_DESCRIPTION = "model.json"
_STATE_FILE = "model.safetensors"


@dataclass
class ExportedModel:
    """A loaded export: the native module and how its logits become the probabilities the export reported."""

    module: nn.Module
    task: str
    #: What the logits are divided by before the softmax; 1 for an uncalibrated export.
    temperature: float

    def predict(self, split: DataSplit, *, device: str | None = None) -> np.ndarray:
        """Probabilities (rows, classes) of ``split``'s rows, calibrated as at export: on the same device,
        identical to the export's ``test_predictions.npz``. ``split.labels`` are not read."""
        setup = pick_device(device)
        module = self.module.to(setup.device)
        return predict(module, to_device_split(split, setup.device), setup, self.task, temperature=self.temperature)


def save_model(
    module: nn.Module, folder: Path, *, config: StudyConfig, merge_lora: bool, temperature: float = 1.0
) -> dict[str, Any]:
    """Write ``module`` under ``folder`` natively and return the description saved as ``model.json``."""
    from peft import PeftModel

    module = module.cpu().eval()
    description: dict[str, Any] = {"builder": config.model.name, "builder_options": config.model.options,
                                   "task": config.task, "temperature": temperature}  # fmt: skip
    if isinstance(module, PeftModel):
        module.save_pretrained(str(folder / "adapter"))
        # Unloading restores the pre-trained layers (and the untrained head peft kept a copy of);
        # done on copies, so the trained module stays whole.
        base = copy.deepcopy(module).unload()
        description |= {"lora": True, "parts": {"base": "base", "adapter": "adapter"}}
        description |= _save_native(base, folder / "base")
        if merge_lora:
            _save_native(copy.deepcopy(module).merge_and_unload(), folder / "merged")
            description["parts"]["merged"] = "merged"
    else:
        description |= {"lora": False, "parts": {"model": "model"}}
        description |= _save_native(module, folder / "model")
    (folder / MODEL_DESCRIPTION).write_text(json.dumps(description, indent=2, default=str) + "\n")
    return description


def _save_native(module: nn.Module, folder: Path) -> dict[str, Any]:
    from transformers import PreTrainedModel

    folder.mkdir(parents=True)
    kind = type(module)
    if isinstance(module, PreTrainedModel):
        module.save_pretrained(folder)
        return {"format": "transformers", "class": f"{kind.__module__}:{kind.__qualname__}"}
    from safetensors.torch import save_file

    # contiguous copies: safetensors refuses views and tensors that share storage
    save_file({name: value.detach().contiguous().clone() for name, value in module.state_dict().items()},
              str(folder / _STATE_FILE))  # fmt: skip
    return {"format": "torch", "class": f"{kind.__module__}:{kind.__qualname__}"}


def load_model(folder: str | Path, *, merged: bool = False, manager: pluggy.PluginManager | None = None) -> nn.Module:
    """The exported model, in eval mode: a Hugging Face model, a peft model, or a rebuilt torch module.

    ``merged`` loads the merged LoRA weights instead of base + adapter. Torch modules that are not
    Hugging Face models are rebuilt by the study's model builder, which needs its plugin and the
    data (the builder reads input and class counts from it). Its logits are the model's as trained:
    :func:`load_exported` applies the calibration.
    """
    folder = Path(folder)
    return _load_module(folder, _description(folder), merged, manager)


def load_exported(
    folder: str | Path, *, merged: bool = False, manager: pluggy.PluginManager | None = None
) -> ExportedModel:
    """The exported model (as :func:`load_model` loads it) with its task and calibration temperature.

    An export written before calibration existed has no temperature (1) and takes its task from
    ``best_config.yaml``.
    """
    folder = Path(folder)
    description = _description(folder)
    task = description.get("task") or load_study_file(folder / "best_config.yaml").task
    return ExportedModel(_load_module(folder, description, merged, manager), task,
                         float(description.get("temperature", 1.0)))  # fmt: skip


def _description(folder: Path) -> dict[str, Any]:
    description_file = folder / MODEL_DESCRIPTION
    if not description_file.is_file():
        raise ConfigError(f"{str(folder)!r} is not an autosft export: it has no {MODEL_DESCRIPTION}")
    return dict(json.loads(description_file.read_text()))


def _load_module(
    folder: Path, description: dict[str, Any], merged: bool, manager: pluggy.PluginManager | None
) -> nn.Module:
    parts = description["parts"]
    if merged and "merged" not in parts:
        raise ConfigError(f"export {str(folder)!r} holds no merged LoRA weights; export again with --merge-lora")
    name = parts["merged"] if merged else parts.get("model", parts.get("base"))
    module = _load_native(folder, folder / name, description, manager)
    if description["lora"] and not merged:
        from peft import PeftModel

        module = PeftModel.from_pretrained(module, folder / parts["adapter"])
    return module.eval()


def _load_native(
    export: Path, folder: Path, description: dict[str, Any], manager: pluggy.PluginManager | None
) -> nn.Module:
    if description["format"] == "transformers":
        module_name, _, qualname = description["class"].partition(":")
        return getattr(importlib.import_module(module_name), qualname).from_pretrained(folder)
    from safetensors.torch import load_file

    module = _rebuilt(export / "best_config.yaml", manager)
    module.load_state_dict(load_file(str(folder / _STATE_FILE)))
    return module


def _rebuilt(config_file: Path, manager: pluggy.PluginManager | None) -> nn.Module:
    """A fresh module of the exported architecture, from the builder the study used."""
    from autosft.components import Splits
    from autosft.plugins import get_plugin_manager

    config = load_study_file(config_file)
    registry = collect_registry(manager or get_plugin_manager())
    dataset_options, model_options, _ = check_components(config, registry)
    splits = registry.datasets.get(config.dataset.name).load(dataset_options, task=config.task,  # type: ignore[arg-type]
                                                             seed=config.seed)  # fmt: skip
    assert isinstance(splits, Splits)
    with torch.random.fork_rng(devices=[]):
        return registry.models.get(config.model.name).build(model_options, splits, seed=config.seed).module
