"""New data through a study's own pipeline, and embeddings of its rows from the exported model.

What ``autosft drift`` and ``autosft rank-unlabeled`` share: both read a file that arrived after
the search, prepare it exactly as the study's rows were, and look at it through the selected model.

- :func:`load_study` — the study file's :class:`StudyData`: its checked components and its data
  as the model sees it (split, encoded), the same as every trial and the export used.
- :func:`load_new_rows` — every row of a new file (CSV, Parquet, JSONL: what the study's loader
  reads) through the study's loader (:meth:`autosft.DatasetLoader.load_new`: the study's options,
  their data file replaced by the new one, preprocessing fitted on the study's train split, never
  refitted) and the model's input encoder (its tokenizer); no row split off, subsampled or dropped.
  Labels come along when the file has the label columns, else ``NewRows.labels`` is ``None``;
  tabular loaders add the raw feature columns of the new rows and of the study's train split.
- :func:`open_export` — an ``autosft export`` folder's model (calibrated ``predict``), with a
  one-line error for a folder that is missing or never held an export.
- :func:`embed` — each row's embedding: the input of the model's final linear layer (its head),
  taken by a forward hook, batched, on CPU or GPU, in row order.
- :func:`require_data_file` — the cheap check of a new file's path, before a study is loaded.
- :func:`as_split` — new rows as a :class:`autosft.DataSplit` for ``ExportedModel.predict``.

Every bad input (a missing or empty file, a missing column, a folder that is no export) is an
:class:`autosft.AutosftError`, which the commands print as one line and exit 2.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pluggy
import torch
from pydantic import BaseModel
from torch import nn

from autosft.components import DataSplit, NewRows, Splits
from autosft.config import StudyConfig, load_study_file
from autosft.engine.data import to_device_split
from autosft.engine.device import pick_device
from autosft.engine.loop import EVAL_BATCH_SIZE, predict_logits
from autosft.engine.staging import model_logits
from autosft.errors import ConfigError, DataError, PluginError
from autosft.export.exporter import BEST_CONFIG
from autosft.export.model import ExportedModel, load_exported
from autosft.registry import Registry, collect_registry
from autosft.search.prepare import check_components, load_splits

__all__ = ["StudyData", "as_split", "embed", "load_new_rows", "load_study", "open_export", "require_data_file"]


@dataclass(frozen=True)
class StudyData:
    """A study's checked components and its data as its model sees it."""

    config: StudyConfig
    registry: Registry
    dataset_options: BaseModel
    model_options: BaseModel
    #: The study's splits, encoded by the model's input encoder, as every trial saw them.
    splits: Splits


def load_study(config: StudyConfig, manager: pluggy.PluginManager) -> StudyData:
    """The study's components checked against the installed plugins, and its data loaded and encoded."""
    registry = collect_registry(manager)
    dataset_options, model_options, _ = check_components(config, registry)
    return StudyData(config, registry, dataset_options, model_options, load_splits(config, registry))


def load_new_rows(study: StudyData, path: str | Path) -> NewRows:
    """Every row of ``path`` prepared as ``study``'s rows: its loader's ``load_new``, then its model's
    input encoder. Labels are the study's class indices, or ``None`` when the file has none."""
    path = require_data_file(path)
    config = study.config
    loader = study.registry.datasets.get(config.dataset.name)
    rows = loader.load_new(study.dataset_options, path, task=config.task, seed=config.seed)  # type: ignore[arg-type]
    if not isinstance(rows, NewRows):
        raise PluginError(f"dataset {loader.name!r}: load_new returned {type(rows).__name__}, not NewRows")
    if len(rows) == 0:
        raise DataError(f"data file {str(path)!r} has no rows")
    builder = study.registry.models.get(config.model.name)
    encoder = builder.input_encoder(study.model_options, study.splits)
    if encoder is None:
        return rows
    return dataclasses.replace(rows, inputs=dict(encoder.encode(rows.inputs)))


def require_data_file(path: str | Path) -> Path:
    """``path`` if it is a non-empty file; else one line saying what it is. Cheap: check it before loading a study."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file {str(path)!r} does not exist")
    if not path.is_file():
        raise DataError(f"data file {str(path)!r} is not a file")
    if path.stat().st_size == 0:
        raise DataError(f"data file {str(path)!r} is empty")
    return path


def open_export(
    folder: str | Path, manager: pluggy.PluginManager, *, config: StudyConfig | None = None
) -> ExportedModel:
    """The model of an ``autosft export`` folder; a missing folder, one without an export, or (given the
    study's ``config``) an export of another dataset or model builder is one line."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"--model {str(folder)!r} does not exist; give a folder written by `autosft export`")
    best = folder / BEST_CONFIG
    if config is not None and best.is_file():
        source = load_study_file(best)
        if (source.dataset.name, source.model.name) != (config.dataset.name, config.model.name):
            raise ConfigError(
                f"--model {str(folder)!r} is an export of dataset {source.dataset.name!r} and model "
                f"{source.model.name!r}, but study {config.name!r} uses {config.dataset.name!r} and "
                f"{config.model.name!r}"
            )
    return load_exported(folder, manager=manager)


def as_split(rows: NewRows | DataSplit) -> DataSplit:
    """``rows`` as a :class:`DataSplit` (all-zero labels where the file has none) for ``predict``."""
    if isinstance(rows, DataSplit):
        return rows
    labels = rows.labels if rows.labels is not None else np.zeros(len(rows), dtype=np.int64)
    return DataSplit(rows.inputs, labels)


def embed(
    module: nn.Module, rows: NewRows | DataSplit, *, device: str | None = None, batch_size: int = EVAL_BATCH_SIZE
) -> np.ndarray:
    """Each row's embedding (rows, features) as float32: the input of the last linear layer the
    forward pass runs that returns the logits, i.e. the model's head.

    Taken by forward hooks on every ``nn.Linear`` for the duration of each batch, so it works for
    any builder's model (an MLP, a Hugging Face classifier, a peft-wrapped one) without knowing
    its layer names. A head whose input has more than two dimensions is mean-pooled over them.
    """
    setup = pick_device(device)
    module = module.to(setup.device).eval()
    split = to_device_split(as_split(rows), setup.device)
    with torch.no_grad():
        return predict_logits(module, split, setup, forward=_HeadInput(module), batch_size=batch_size).numpy()


class _HeadInput:
    """A ``forward`` for :func:`predict_logits` that returns the head's input instead of the logits."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.linears = [layer for layer in module.modules() if isinstance(layer, nn.Linear)]
        if not self.linears:
            raise PluginError(f"model {type(module).__name__} has no linear layer whose input could be its embedding")

    def __call__(self, inputs: Any) -> torch.Tensor:
        seen: list[tuple[torch.Tensor, torch.Tensor]] = []

        def keep(layer: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> None:
            seen.append((args[0], output))

        handles = [layer.register_forward_hook(keep) for layer in self.linears]
        try:
            logits = model_logits(self.module, inputs)
        finally:
            for handle in handles:
                handle.remove()
        width = logits.shape[-1]
        heads = [given for given, output in seen if output.shape[-1] == width and output.shape[0] == logits.shape[0]]
        if not heads:
            raise PluginError(f"model {type(self.module).__name__}: no linear layer returns its {width} logits")
        head_input = heads[-1]
        return head_input.flatten(1, -2).mean(dim=1) if head_input.dim() > 2 else head_input
