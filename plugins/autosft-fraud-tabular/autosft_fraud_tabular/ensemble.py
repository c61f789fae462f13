"""The ``tabm`` model: TabM (Gorishniy et al., ICLR 2025), an efficient ensemble of k MLPs in one module,
optionally over piecewise-linear embeddings of the numeric columns; pre-trained like ``tabular_mlp``.

The k members share most weights and differ by small per-member adapters; each member learns every
batch on its own (training returns (rows, k, classes), scored per member by the engine), and in eval
mode the module returns the log of the members' mean probability, so everything downstream
(metrics, calibration, export, ONNX) sees ordinary (rows, classes) logits.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
from pydantic import BaseModel, Field, PositiveInt
from rtdl_num_embeddings import PiecewiseLinearEmbeddings, compute_bins
from tabm import EnsembleView, LinearEnsemble, make_tabm_backbone
from torch import nn

from autosft import BuiltModel, ConfigError, PretrainingOptions, Splits
from autosft_fraud_tabular.pretraining import PretrainedTabularBuilder, feature_count

__all__ = ["TabM", "TabMBuilder", "TabMOptions", "numeric_columns"]


class TabMOptions(PretrainingOptions):
    """Options of the ``tabm`` model."""

    arch: Literal["tabm", "tabm-mini"] = Field(
        default="tabm-mini",
        description="tabm: BatchEnsemble adapters in every layer; tabm-mini: one per-member scaling at the input, "
        "shared nn.Linear layers after it (what LoRA can adapt).",
    )
    k: PositiveInt = Field(default=32, le=256, description="Ensemble members.")
    n_blocks: PositiveInt = Field(default=2, le=16, description="Hidden blocks (Linear, ReLU, Dropout).")
    d_block: PositiveInt = Field(default=128, description="Width of every hidden block.")
    dropout: float = Field(default=0.1, ge=0, lt=1, description="Dropout after every block.")
    numeric_embeddings: Literal["none", "piecewise_linear"] = Field(
        default="piecewise_linear",
        description="Embed each numeric column piecewise-linearly, with quantile bins of the train split.",
    )
    n_bins: int = Field(default=16, ge=2, le=256, description="Quantile bins per numeric column (at most).")
    d_embedding: PositiveInt = Field(default=8, le=256, description="Width of each numeric column's embedding.")
    pretrain_epochs: int = Field(default=10, ge=1, le=1000, description="Epochs over the pretrain population.")


class TabM(nn.Module):
    """``embeddings`` (numeric columns; absent without numeric embeddings), ``backbone.blocks.<i>``
    (``backbone.affine`` for tabm-mini) and ``output``, one linear head per member."""

    numeric: torch.Tensor  # buffers: the embedded columns, and the others, passed through
    other: torch.Tensor

    def __init__(
        self, in_features: int, num_classes: int, options: TabMOptions, numeric: list[int], bins: list[torch.Tensor]
    ) -> None:
        super().__init__()
        self.register_buffer("numeric", torch.tensor(numeric, dtype=torch.long), persistent=False)
        other = [column for column in range(in_features) if column not in numeric]
        self.register_buffer("other", torch.tensor(other, dtype=torch.long), persistent=False)
        self.embeddings = (
            PiecewiseLinearEmbeddings(bins, options.d_embedding, activation=False, version="B") if bins else None
        )
        widths = [options.d_embedding] * len(bins) + [1] * len(other)
        self.ensemble_view = EnsembleView(k=options.k)
        self.backbone = make_tabm_backbone(
            d_in=sum(widths),
            n_blocks=options.n_blocks,
            d_block=options.d_block,
            dropout=options.dropout,
            k=options.k,
            arch_type=options.arch,
            # TabM's defaults: normal scalings over embeddings, random signs over raw features
            start_scaling_init="normal" if bins else "random-signs",
            start_scaling_init_chunks=widths,
        )
        self.output = LinearEnsemble(options.d_block, num_classes, k=options.k)

    def members(self, x: torch.Tensor) -> torch.Tensor:
        """Every member's logits, (rows, k, classes)."""
        if self.embeddings is not None:
            x = torch.cat([self.embeddings(x[:, self.numeric]).flatten(1), x[:, self.other]], dim=1)
        return self.output(self.backbone(self.ensemble_view(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Training: per-member logits (rows, k, classes); eval: log of the members' mean probability."""
        logits = self.members(x)
        if self.training:
            return logits
        return torch.logsumexp(torch.log_softmax(logits, dim=-1), dim=1) - math.log(logits.shape[1])


class TabMBuilder(PretrainedTabularBuilder):
    """Builds :class:`TabM`, pre-trained on ``splits.pretrain`` when the loader gives one."""

    name: ClassVar[str] = "tabm"
    description: ClassVar[str] = (
        "TabM: an efficient ensemble of MLPs for tabular inputs, with piecewise-linear numeric embeddings; "
        "pre-trained once on the source population and cached"
    )
    Options: ClassVar[type[BaseModel]] = TabMOptions
    # TabM's own tuning range is AdamW 1e-4..5e-3; wide blocks and 32 members want no more.
    learning_rate: ClassVar[tuple[float, float, float]] = (1e-4, 2e-3, 1e-2)
    batch_sizes: ClassVar[tuple[int, ...]] = (32, 64, 128, 256)
    default_batch_size: ClassVar[int] = 64
    cache_version: ClassVar[int] = 1
    head_name: ClassVar[str] = "output"

    def new_module(self, options: BaseModel, splits: Splits, num_classes: int) -> nn.Module:
        assert isinstance(options, TabMOptions)
        if splits.task == "multilabel":
            raise ConfigError("model tabm predicts one label per row (binary or multiclass), not multilabel")
        in_features = feature_count(self.name, splits.train, splits.input_kind)
        numeric: list[int] = []
        bins: list[torch.Tensor] = []
        if options.numeric_embeddings == "piecewise_linear":
            train = torch.as_tensor(splits.train.inputs, dtype=torch.float32)
            numeric = numeric_columns(train)
            if numeric:  # bins from the train split only: validation and test never shape the encoding
                bins = compute_bins(train[:, numeric], n_bins=min(options.n_bins, len(train) - 1))
        return TabM(in_features, num_classes, options, numeric, bins)

    def structure(self, module: nn.Module, *, pretrained: bool) -> BuiltModel:
        assert isinstance(module, TabM)
        blocks = [f"backbone.blocks.{index}" for index in range(len(module.backbone.blocks))]
        first = [blocks[0], *(["backbone.affine"] if hasattr(module.backbone, "affine") else [])]
        embeddings = [["embeddings"]] if module.embeddings is not None else []
        linears = [f"{block}.0" for block in blocks if isinstance(module.get_submodule(f"{block}.0"), nn.Linear)]
        # peft adapts nn.Linear only: tabm-mini's shared layers are; tabm's BatchEnsemble layers are not
        lora_targets = {"all_linear": linears, "hidden": linears[1:] or linears} if linears else {}
        return BuiltModel(
            module=module,
            layer_groups=[*embeddings, first, *[[block] for block in blocks[1:]], ["output"]],
            lora_targets=lora_targets,
            head=["output"],
            pretrained=pretrained,
        )


def numeric_columns(train: torch.Tensor) -> list[int]:
    """The columns worth embedding: those with at least three distinct train values (one-hot and other
    binary columns go to the backbone as they are; a column of one value carries nothing to bin)."""
    return [column for column in range(train.shape[1]) if len(torch.unique(train[:, column])) >= 3]
