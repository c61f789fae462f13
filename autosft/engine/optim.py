"""AdamW with decay/no-decay parameter groups, and a linear-warmup cosine schedule."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["build_optimizer", "warmup_cosine"]


def build_optimizer(
    module: nn.Module, *, learning_rate: float, weight_decay: float, include_frozen: bool, device: torch.device
) -> torch.optim.AdamW:
    """AdamW over the module's parameters, without decay on biases and normalization weights.

    ``include_frozen`` keeps currently frozen parameters in the optimizer so gradual unfreezing
    needs no rebuild: AdamW skips any parameter whose gradient is ``None``.
    """
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for parameter in module.parameters():
        if not (parameter.requires_grad or include_frozen):
            continue
        # Vectors (biases, LayerNorm scales) hold offsets and scales; decaying them only hurts.
        (decay if parameter.ndim >= 2 else no_decay).append(parameter)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=learning_rate, fused=device.type == "cuda")


def warmup_cosine(
    optimizer: torch.optim.Optimizer, *, total_steps: int, warmup_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup over ``warmup_ratio`` of the steps, then cosine decay to zero."""
    warmup_steps = int(total_steps * warmup_ratio)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
