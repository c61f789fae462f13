"""Pre-trained weights computed once and reused: in memory per process, in files across processes.

Pre-training on a source population depends on the data, the model's options and the seed, never
on the trial, so a model builder keys it by those and asks here: the first build in a process
loads the file another worker or an earlier run saved, or trains and saves it; later builds get the
copy held in memory. Files are written under a temporary name and renamed, so a worker never reads
a half-written file another worker is still saving, and an unreadable file is retrained, not fatal.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

from autosft.engine.cache import CACHE_ENV, write_atomically
from autosft.engine.cache import cache_dir as default_cache_dir
from autosft.engine.losses import member_loss
from autosft.engine.optim import build_optimizer


class PretrainingOptions(BaseModel):
    """Options every model builder that pre-trains once and caches the weights shares.

    Subclass it for a builder's options; redeclare a field to change its default or bounds.
    """

    model_config = ConfigDict(extra="forbid")

    pretrain_epochs: int = Field(default=10, ge=1, le=1000, description="Epochs over the pretrain rows.")
    pretrain_learning_rate: float = Field(default=1e-3, gt=0, le=1, description="AdamW rate of pre-training.")
    pretrain_batch_size: int = Field(default=256, ge=1, description="Batch size of pre-training.")
    pretrain_weight_decay: float = Field(default=0.01, ge=0, description="AdamW decay of the weight matrices.")
    cache_dir: Path | None = Field(
        default=None, description=f"Weights cache; default ${CACHE_ENV} or ~/.cache/autosft."
    )


__all__ = [
    "CACHE_ENV",
    "PretrainingOptions",
    "cache_file",
    "cache_root",
    "clear_memory_cache",
    "fit_on_source",
    "pretrained_state",
    "state_key",
]

logger = logging.getLogger(__name__)


State = dict[str, torch.Tensor]
_MEMORY: dict[tuple[str, str], State] = {}


def cache_root(cache_dir: Path | None = None) -> Path:
    """``cache_dir`` when given, else ``$AUTOSFT_CACHE_DIR``, else ``~/.cache/autosft``."""
    return cache_dir if cache_dir is not None else default_cache_dir()


def cache_file(namespace: str, key: str, *, cache_dir: Path | None = None) -> Path:
    """The file that holds (or will hold) the weights of ``key``."""
    return cache_root(cache_dir) / namespace / f"{key}.pt"


def state_key(**parts: Any) -> str:
    """A stable 24-hex-character key over JSON-able ``parts`` (data fingerprint, recipe, seed, version)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def clear_memory_cache() -> None:
    """Forget pre-trained weights held in this process (the files stay)."""
    _MEMORY.clear()


def pretrained_state(namespace: str, key: str, train: Callable[[], State], *, cache_dir: Path | None = None) -> State:
    """The ``state_dict`` under ``<cache root>/<namespace>/<key>.pt``: from memory, else the file,
    else ``train()`` now and saved. Callers copy it into a module (``load_state_dict`` copies)."""
    if (namespace, key) in _MEMORY:
        return _MEMORY[namespace, key]
    path = cache_file(namespace, key, cache_dir=cache_dir)
    state = None
    if path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            logger.info("%s: loaded pre-trained weights from %s", namespace, path)
        except Exception as error:  # a corrupt or foreign file is rebuilt, never fatal
            logger.warning("%s: ignoring unreadable cache file %s (%s)", namespace, path, error)
    if state is None:
        state = train()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda file: torch.save(state, file))
    _MEMORY[namespace, key] = state
    return state


def fit_on_source(
    module: torch.nn.Module,
    options: PretrainingOptions,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    *,
    seed: int,
    class_weights: torch.Tensor | None = None,
    clip_norm: float | None = None,
) -> State:
    """Pre-train ``module`` on the CPU with AdamW and cross-entropy, shuffled under ``seed``; its weights.

    One loop for every builder that pre-trains, so the fraud and retail backbones differ only in what
    they pass: class weights for a skewed source, a gradient clip for a transformer.
    """
    optimizer = build_optimizer(module, learning_rate=options.pretrain_learning_rate,
                                weight_decay=options.pretrain_weight_decay, include_frozen=True,
                                device=torch.device("cpu"))  # fmt: skip

    def hard_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(logits, targets, weight=class_weights)

    shuffle = torch.Generator().manual_seed(seed)
    module.train()
    for _ in range(options.pretrain_epochs):
        order = torch.randperm(len(labels), generator=shuffle)
        for start in range(0, len(labels), options.pretrain_batch_size):
            batch = order[start : start + options.pretrain_batch_size]
            loss = member_loss(hard_loss, module(inputs[batch]), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(module.parameters(), clip_norm)
            optimizer.step()
    module.eval()
    return {name: value.detach().clone() for name, value in module.state_dict().items()}
