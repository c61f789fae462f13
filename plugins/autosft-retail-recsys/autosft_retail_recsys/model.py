"""The ``next_item_transformer`` model: a SASRec-style encoder over a customer's item history,
pre-trained once on every user's training period and cached by data fingerprint.

The newest position's state, after self-attention over the (left-padded) history, scores the
whole catalogue through a linear ``output`` layer whose bias learns item popularity. Held-out rows
flagged ``exclude_seen`` get the items of their history masked out, so only new items are ranked.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import torch
from pydantic import BaseModel, Field
from torch import nn
from torch.nn import functional as F

from autosft import (
    BuiltModel,
    ConfigError,
    DataSplit,
    LossFunction,
    ModelBuilder,
    PretrainingOptions,
    Splits,
    TrialPlan,
    fit_on_source,
    pretrained_state,
    seeded,
    single_thread,
    state_key,
)
from autosft_retail_recsys.data import INPUT_KIND
from autosft_retail_recsys.objectives import LOSS_DIMENSION, NEGATIVES_DIMENSION, ranking_loss

__all__ = ["NextItemBuilder", "NextItemOptions", "NextItemTransformer"]

logger = logging.getLogger(__name__)

CACHE_NAMESPACE = "next_item_transformer"
#: Bumped whenever the architecture or the pre-training recipe changes, to orphan old cache files.
CACHE_VERSION = 1
#: Score of masked (already bought) items: far below any real score, yet finite under fp16 autocast.
MASKED_SCORE = -1e4

#: The modules that turn the history's state into item scores; never frozen, fully trained under LoRA.
HEAD = ("norm", "output", "repeat")

_ANNOUNCED: set[str] = set()


class NextItemOptions(PretrainingOptions):
    """Options of the ``next_item_transformer`` model."""

    dim: int = Field(default=64, ge=8, le=1024, description="Width of item embeddings and blocks.")
    blocks: int = Field(default=2, ge=1, le=12, description="Self-attention blocks.")
    heads: int = Field(default=2, ge=1, le=16, description="Attention heads; must divide dim.")
    dropout: float = Field(default=0.2, ge=0, lt=1, description="Dropout (the search's `dropout` overrides it).")
    pretrain_epochs: int = Field(default=2, ge=1, le=200, description="Epochs over the pretrain rows.")
    pretrain_learning_rate: float = Field(default=2e-3, gt=0, le=1, description="AdamW rate of pre-training.")


class _Block(nn.Module):
    """Pre-norm self-attention and feed-forward, with named linears LoRA can target."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.attention_norm = nn.LayerNorm(dim)
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.attention_out = nn.Linear(dim, dim)
        self.feed_forward_norm = nn.LayerNorm(dim)
        self.feed_forward_in = nn.Linear(dim, 2 * dim)
        self.feed_forward_out = nn.Linear(2 * dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor, *, newest_only: bool = False) -> torch.Tensor:
        """``newest_only``: attend from the newest position alone (the last block needs no other)."""
        batch, _, dim = x.shape
        h = self.attention_norm(x)
        queries = h[:, -1:] if newest_only else h
        if newest_only:
            x = x[:, -1:]

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, t.shape[1], self.heads, dim // self.heads).transpose(1, 2)

        attended = F.scaled_dot_product_attention(
            heads(self.query(queries)), heads(self.key(h)), heads(self.value(h)), attn_mask=keep[:, None, None, :]
        )
        x = x + self.dropout(self.attention_out(attended.transpose(1, 2).reshape(batch, x.shape[1], dim)))
        return x + self.dropout(self.feed_forward_out(F.gelu(self.feed_forward_in(self.feed_forward_norm(x)))))


class NextItemTransformer(nn.Module):
    """``items``/``positions`` embeddings → ``blocks.<i>`` → ``norm`` + ``output`` (item scores)."""

    def __init__(self, num_items: int, max_history: int, options: NextItemOptions) -> None:
        super().__init__()
        self.items = nn.Embedding(num_items + 1, options.dim, padding_idx=0)
        self.positions = nn.Embedding(max_history, options.dim)
        self.embedding_dropout = nn.Dropout(options.dropout)
        self.blocks = nn.ModuleList(_Block(options.dim, options.heads, options.dropout) for _ in range(options.blocks))
        self.norm = nn.LayerNorm(options.dim)
        self.output = nn.Linear(options.dim, num_items)
        self.repeat = nn.Linear(options.dim, 1)
        # Small embeddings, as in SASRec: N(0, 1) rows scaled by sqrt(dim) would drown the positions.
        for embedding in (self.items, self.positions):
            nn.init.normal_(embedding.weight, std=options.dim**-0.5)
        self.items.weight.data[0] = 0.0
        self.scale = math.sqrt(options.dim)

    def forward(self, items: torch.Tensor, exclude_seen: torch.Tensor | None = None) -> torch.Tensor:
        keep = items > 0
        # An ONNX graph is traced once, so it keeps every column and always masks: both shortcuts
        # below read the data, and padding columns and an all-false mask change no score.
        tracing = torch.jit.is_tracing()
        # Histories are left-padded: columns left of the batch's longest history are all padding.
        width = items.shape[1] if tracing else max(1, int(keep.sum(dim=1).max()))
        window, keep = items[:, -width:], keep[:, -width:]
        x = self.items(window) * self.scale + self.positions.weight[None, -width:]
        x = self.embedding_dropout(x)
        for index, block in enumerate(self.blocks):
            x = block(x, keep, newest_only=index == len(self.blocks) - 1)
        state = self.norm(x[:, -1])  # the newest position has seen the whole history
        # Customers re-buy: a per-customer gate times log(1 + times bought) lets the model copy from
        # the history, which item scores alone learn slowly.
        bought = torch.zeros(items.shape[0], self.output.out_features + 1, device=items.device)
        bought.scatter_add_(1, window, keep.to(bought.dtype))
        bought = bought[:, 1:]
        scores = self.output(state) + self.repeat(state) * torch.log1p(bought)
        if exclude_seen is not None and (tracing or bool(exclude_seen.any())):
            scores = scores.masked_fill((bought > 0) & exclude_seen[:, None].bool(), MASKED_SCORE)
        return scores


class NextItemBuilder(ModelBuilder):
    """Builds :class:`NextItemTransformer`, pre-trained on ``splits.pretrain`` when the loader gives one."""

    name: ClassVar[str] = "next_item_transformer"
    description: ClassVar[str] = "SASRec-style next-item model, pre-trained once on all users and cached"
    Options: ClassVar[type[BaseModel]] = NextItemOptions
    # Fine-tuning a recommender pre-trained on the same catalogue wants small steps: at 1e-3 full
    # fine-tuning on a segment of a few thousand rows already forgets more than it learns.
    learning_rate: ClassVar[tuple[float, float, float]] = (1e-5, 2e-4, 3e-3)
    batch_sizes: ClassVar[tuple[int, ...]] = (64, 128, 256)
    default_batch_size: ClassVar[int] = 128

    def build(self, options: BaseModel, splits: Splits, *, seed: int) -> BuiltModel:
        assert isinstance(options, NextItemOptions)
        max_history = _history_length(splits)
        if options.dim % options.heads:
            raise ConfigError(
                f"model next_item_transformer: `dim % heads == 0` must hold, got {options.dim=}, {options.heads=}"
            )
        with seeded(seed):
            module = NextItemTransformer(splits.num_classes, max_history, options)
        pretrained = splits.pretrain is not None and len(splits.pretrain) > 0
        if pretrained:
            module.load_state_dict(pretrained_weights(options, splits, seed=seed))  # copies: each build owns them
        elif splits.fingerprint not in _ANNOUNCED:
            _ANNOUNCED.add(splits.fingerprint)
            logger.info("next_item_transformer: the dataset has no pretrain split; starting from random weights")
        blocks = [f"blocks.{index}" for index in range(options.blocks)]
        attention = [f"{block}.{name}" for block in blocks for name in ("query", "key", "value", "attention_out")]
        feed_forward = [f"{block}.{name}" for block in blocks for name in ("feed_forward_in", "feed_forward_out")]
        return BuiltModel(
            module=module,
            layer_groups=[["items", "positions"], *[[block] for block in blocks], list(HEAD)],
            lora_targets={"attention": attention, "all_linear": attention + feed_forward},
            head=list(HEAD),
            pretrained=pretrained,
        )

    def head_is_pretrained(self, options: BaseModel, splits: Splits) -> bool:
        """Pre-trained on every customer's next items over the same catalogue, the model already
        ranks the target segment's: as is, it is a reference and a starting trial."""
        return splits.pretrain is not None and len(splits.pretrain) > 0

    def training_loss(
        self, options: BaseModel, splits: Splits, plan: TrialPlan, *, device: torch.device
    ) -> LossFunction | None:
        """Full softmax (the default cross-entropy), or sampled softmax / BPR with ``negatives``."""
        kind = plan.extra.get(LOSS_DIMENSION, "softmax")
        return ranking_loss(kind, negatives=plan.extra.get(NEGATIVES_DIMENSION, 0), seed=plan.seed, device=device)


def pretrained_weights(options: NextItemOptions, splits: Splits, *, seed: int) -> dict[str, torch.Tensor]:
    """Pre-trained weights for these data, options and seed: cached in memory and on disk."""
    pretrain = splits.pretrain
    assert pretrain is not None
    key = state_key(
        data=splits.fingerprint,
        recipe=options.model_dump(mode="json", exclude={"cache_dir"}),
        seed=seed,
        version=CACHE_VERSION,
        items=splits.num_classes,
        history=_history_length(splits),
    )
    return pretrained_state(
        CACHE_NAMESPACE, key, lambda: _pretrain(options, splits, pretrain, seed), cache_dir=options.cache_dir
    )


def _pretrain(options: NextItemOptions, splits: Splits, data: DataSplit, seed: int) -> dict[str, torch.Tensor]:
    """Full-softmax next-item training on every user's training period, deterministic under ``seed``."""
    items = torch.as_tensor(np.asarray(data.inputs["items"]))
    labels = torch.as_tensor(np.asarray(data.labels, dtype=np.int64))
    logger.info("next_item_transformer: pre-training on %d rows, %d epochs", len(labels), options.pretrain_epochs)
    with single_thread(), seeded(seed):  # dropout draws from the global RNG; keep the caller's
        module = NextItemTransformer(splits.num_classes, items.shape[1], options)
        return fit_on_source(module, options, items, labels, seed=seed, clip_norm=1.0)


def _history_length(splits: Splits) -> int:
    inputs = splits.train.inputs
    if splits.input_kind != INPUT_KIND or not isinstance(inputs, Mapping) or "items" not in inputs:
        raise ConfigError(
            f"model next_item_transformer needs {INPUT_KIND!r} inputs (dataset 'interactions'), "
            f"but the dataset gives input_kind {splits.input_kind!r}"
        )
    return int(np.asarray(inputs["items"]).shape[1])
