"""The ``tabular_mlp`` model: an MLP backbone pre-trained once on the source population.

Pre-training and its cache are shared with the other tabular backbones
(:mod:`autosft_fraud_tabular.pretraining`).
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import ClassVar

import torch
from pydantic import BaseModel, Field, PositiveInt
from torch import nn

from autosft import BuiltModel, PretrainingOptions, Splits, clear_memory_cache
from autosft_fraud_tabular.pretraining import PretrainedTabularBuilder, feature_count

__all__ = ["TabularMLP", "TabularMLPBuilder", "TabularMLPOptions", "cache_path", "clear_memory_cache"]


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


class TabularMLPBuilder(PretrainedTabularBuilder):
    """Builds :class:`TabularMLP`, pre-trained on ``splits.pretrain`` when the loader gives one."""

    name: ClassVar[str] = "tabular_mlp"
    description: ClassVar[str] = "MLP for tabular inputs, pre-trained once on the source population and cached"
    Options: ClassVar[type[BaseModel]] = TabularMLPOptions
    # Small randomly-initialised or lightly pre-trained MLPs want far larger rates than transformers.
    learning_rate: ClassVar[tuple[float, float, float]] = (1e-4, 2e-3, 3e-2)
    batch_sizes: ClassVar[tuple[int, ...]] = (32, 64, 128, 256)
    default_batch_size: ClassVar[int] = 64
    cache_version: ClassVar[int] = 2

    def new_module(self, options: BaseModel, splits: Splits, num_classes: int) -> nn.Module:
        assert isinstance(options, TabularMLPOptions)
        in_features = feature_count(self.name, splits.train, splits.input_kind)
        return TabularMLP(in_features, options.hidden_sizes, num_classes, options.dropout)

    def structure(self, module: nn.Module, *, pretrained: bool) -> BuiltModel:
        assert isinstance(module, TabularMLP)
        hidden = [f"blocks.{index}.linear" for index in range(len(module.blocks))]
        return BuiltModel(
            module=module,
            layer_groups=[["input"], *[[f"blocks.{index}"] for index in range(len(module.blocks))], ["head"]],
            lora_targets={"all_linear": ["input.linear", *hidden], "hidden": hidden or ["input.linear"]},
            head=["head"],
            pretrained=pretrained,
        )


def cache_path(options: TabularMLPOptions, splits: Splits, seed: int) -> Path:
    """The file holding the pre-trained ``state_dict`` of ``tabular_mlp`` for these options, data and seed."""
    return TabularMLPBuilder().cache_path(options, splits, seed)
