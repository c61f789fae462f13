"""The ``tabular_mlp`` model: an MLP backbone pre-trained once on the source population.

Pre-training depends on the data, the options and the seed, never on the trial, so it runs once
per study (per machine) and every trial starts from the cached weights
(:mod:`autosft.engine.pretrained`: in memory per worker process, in files across processes and runs).
"""

from __future__ import annotations

import logging
from itertools import pairwise
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from pydantic import BaseModel, Field, PositiveInt
from torch import nn

from autosft import (
    BuiltModel,
    ConfigError,
    DataSplit,
    ModelBuilder,
    PretrainingOptions,
    Splits,
    cache_file,
    class_counts,
    clear_memory_cache,
    fit_on_source,
    inverse_frequency,
    seeded,
    single_thread,
    state_key,
)
from autosft import pretrained_state as cached_pretrained_state

__all__ = ["TabularMLP", "TabularMLPBuilder", "TabularMLPOptions", "cache_path", "clear_memory_cache"]

logger = logging.getLogger(__name__)

CACHE_NAMESPACE = "tabular_mlp"
#: Bumped whenever the architecture or the pre-training recipe changes, to orphan old cache files.
CACHE_VERSION = 2

_ANNOUNCED: set[str] = set()


class TabularMLPOptions(PretrainingOptions):
    """Options of the ``tabular_mlp`` model."""

    hidden_sizes: list[PositiveInt] = Field(
        default=[128, 64, 64],
        min_length=1,
        description="Widths of the input block, then of each hidden block.",
    )
    dropout: float = Field(default=0.1, ge=0, lt=1, description="Dropout after every block.")
    pretrain_epochs: int = Field(default=10, ge=1, le=1000, description="Epochs over the pretrain population.")


class _Block(nn.Module):
    """Linear → LayerNorm → GELU → Dropout; LayerNorm keeps one-hot and scaled inputs comparable."""

    def __init__(self, in_features: int, out_features: int, dropout: float) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.norm = nn.LayerNorm(out_features)
        self.act = nn.GELU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.act(self.norm(self.linear(x))))


class TabularMLP(nn.Module):
    """``input`` block, ``blocks.<i>``, and a linear ``head`` returning (batch, classes) logits."""

    def __init__(self, in_features: int, hidden_sizes: list[int], num_classes: int, dropout: float) -> None:
        super().__init__()
        self.input = _Block(in_features, hidden_sizes[0], dropout)
        self.blocks = nn.ModuleList(_Block(width, out, dropout) for width, out in pairwise(hidden_sizes))
        self.head = nn.Linear(hidden_sizes[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class TabularMLPBuilder(ModelBuilder):
    """Builds :class:`TabularMLP`, pre-trained on ``splits.pretrain`` when the loader gives one."""

    name: ClassVar[str] = "tabular_mlp"
    description: ClassVar[str] = "MLP for tabular inputs, pre-trained once on the source population and cached"
    Options: ClassVar[type[BaseModel]] = TabularMLPOptions
    # Small randomly-initialised or lightly pre-trained MLPs want far larger rates than transformers.
    learning_rate: ClassVar[tuple[float, float, float]] = (1e-4, 2e-3, 3e-2)
    batch_sizes: ClassVar[tuple[int, ...]] = (32, 64, 128, 256)
    default_batch_size: ClassVar[int] = 64

    def build(self, options: BaseModel, splits: Splits, *, seed: int) -> BuiltModel:
        assert isinstance(options, TabularMLPOptions)
        in_features = _feature_count(splits.train, splits.input_kind)
        module = _new_module(options, in_features, splits.num_classes, seed)
        if splits.pretrain is not None and len(splits.pretrain):
            state = pretrained_state(options, splits, seed=seed)
            if state["head.weight"].shape[0] != splits.num_classes:
                # The source task has other classes: keep the backbone, start the head fresh.
                state = {name: value for name, value in state.items() if not name.startswith("head.")}
            module.load_state_dict(state, strict=False)  # copies, so each build owns its weights
        elif splits.fingerprint not in _ANNOUNCED:
            _ANNOUNCED.add(splits.fingerprint)
            logger.info("tabular_mlp: the dataset has no pretrain split; starting from random weights")
        hidden = [f"blocks.{index}.linear" for index in range(len(module.blocks))]
        return BuiltModel(
            module=module,
            layer_groups=[["input"], *[[f"blocks.{index}"] for index in range(len(module.blocks))], ["head"]],
            lora_targets={"all_linear": ["input.linear", *hidden], "hidden": hidden or ["input.linear"]},
            head=["head"],
            pretrained=splits.pretrain is not None and len(splits.pretrain) > 0,
        )

    def head_is_pretrained(self, options: BaseModel, splits: Splits) -> bool:
        """Pre-trained on the target's own label (the source rows hold no class the target lacks),
        the head :meth:`build` keeps already predicts the target: the model as is is a candidate."""
        pretrain = splits.pretrain
        return pretrain is not None and len(pretrain) > 0 and int(pretrain.labels.max()) < splits.num_classes


def cache_key(options: TabularMLPOptions, splits: Splits, seed: int) -> str:
    """What pre-trained weights depend on: data, architecture, recipe and seed (not the cache folder)."""
    return state_key(
        data=splits.fingerprint,
        recipe=options.model_dump(mode="json", exclude={"cache_dir"}),
        seed=seed,
        version=CACHE_VERSION,
        in_features=_feature_count(splits.train, splits.input_kind),
        classes=list(splits.class_names),
    )


def cache_path(options: TabularMLPOptions, splits: Splits, seed: int) -> Path:
    """The file holding the pre-trained ``state_dict`` for these options, data and seed."""
    return cache_file(CACHE_NAMESPACE, cache_key(options, splits, seed), cache_dir=options.cache_dir)


def pretrained_state(options: TabularMLPOptions, splits: Splits, *, seed: int) -> dict[str, torch.Tensor]:
    """Pre-trained weights from memory, else from the file cache, else trained now and saved."""
    pretrain = splits.pretrain
    assert pretrain is not None
    if _feature_count(pretrain, splits.input_kind) != _feature_count(splits.train, splits.input_kind):
        raise ConfigError("model tabular_mlp needs pretrain and train inputs with the same columns")
    return cached_pretrained_state(
        CACHE_NAMESPACE,
        cache_key(options, splits, seed),
        lambda: _pretrain(options, pretrain, splits.num_classes, seed),
        cache_dir=options.cache_dir,
    )


def _pretrain(options: TabularMLPOptions, data: DataSplit, num_classes: int, seed: int) -> dict[str, torch.Tensor]:
    """Supervised pre-training on the source population, deterministic under ``seed``.

    Class-weighted cross-entropy, because the source population is as imbalanced as the target
    and an unweighted loss would pre-train a backbone that only knows the majority class.
    """
    inputs = torch.tensor(np.asarray(data.inputs, dtype=np.float32))
    labels = torch.tensor(np.asarray(data.labels, dtype=np.int64))
    classes = max(num_classes, int(labels.max()) + 1)
    weights = torch.tensor(inverse_frequency(class_counts(data.labels, classes)), dtype=torch.float32)
    logger.info("tabular_mlp: pre-training on %d source rows, %d epochs", len(labels), options.pretrain_epochs)
    with single_thread(), seeded(seed):  # dropout draws from the global RNG; keep the caller's
        module = TabularMLP(inputs.shape[1], options.hidden_sizes, classes, options.dropout)
        return fit_on_source(module, options, inputs, labels, seed=seed, class_weights=weights)


def _new_module(options: TabularMLPOptions, in_features: int, num_classes: int, seed: int) -> TabularMLP:
    with seeded(seed):
        return TabularMLP(in_features, options.hidden_sizes, num_classes, options.dropout)


def _feature_count(split: DataSplit, input_kind: str) -> int:
    shape = getattr(split.inputs, "shape", None)
    if input_kind != "tabular" or shape is None or len(shape) != 2:
        raise ConfigError(
            f"model tabular_mlp needs 2-D tabular inputs, but the dataset gives input_kind {input_kind!r}"
            f"{'' if shape is None else f' with shape {tuple(shape)}'}"
        )
    return int(shape[1])
