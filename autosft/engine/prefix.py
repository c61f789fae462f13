"""Frozen-prefix training: a trial that freezes the first k layer groups trains the rest on their cached output.

Frozen groups run in eval mode, so what they compute for a row is the same every epoch and in every
trial that freezes at least as much of the same weights: it is computed once, kept in the
process's :func:`~autosft.engine.cache.activation_cache` under (weights, data fingerprint, split,
depth), and a deeper trial starts from the deepest depth already cached. A trial falls back to the
whole forward pass, with the same result, whenever the cached rows would be wrong for it: full
fine-tuning and LoRA (their first groups learn), augmentation (it changes the inputs every batch),
resampling (it changes the rows), and gradual unfreezing beyond the groups that stay frozen for
the whole trial (only those are cached).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from autosft.components import DataSplit, StagedForward
from autosft.contracts import TrialPlan
from autosft.engine.cache import activation_cache
from autosft.engine.data import MASK, DeviceSplit, in_length_order, restore_order, to_device_split
from autosft.engine.job import TrainingJob
from autosft.engine.model import AdaptedModel
from autosft.engine.staging import stages_agree

__all__ = ["INPUTS", "STATE", "FrozenPrefix", "frozen_prefix", "thawed_groups"]

logger = logging.getLogger(__name__)

#: Batch-mapping key of the cached activations, and of inputs that are a tensor rather than a mapping.
STATE = "autosft_prefix_state"
INPUTS = "autosft_inputs"
#: Rows per forward pass when activations are computed.
CHUNK_ROWS = 256
_AGREEMENT: dict[str, bool] = {}


def thawed_groups(plan: TrialPlan) -> int:
    """How many frozen groups gradual unfreezing thaws over the whole trial (one every ``unfreeze_every`` epochs)."""
    return (plan.epochs - 1) // plan.unfreeze_every if plan.unfreeze_every else 0


def frozen_prefix(job: TrainingJob, adapted: AdaptedModel, train_split: DataSplit) -> FrozenPrefix | None:
    """The cached prefix this trial can train on, or ``None`` to run the whole model (see the module doc)."""
    plan, built = job.plan, job.built
    if not job.cache_activations or built.stages is None or plan.adaptation != "freeze" or adapted.lora:
        return None
    if job.augmentation is not None and plan.augmentation_strength > 0:
        return None
    if train_split is not job.splits.train or activation_cache().budget_bytes == 0:
        return None
    depth = plan.freeze_depth - thawed_groups(plan)
    if depth < 1:
        return None
    prefix = FrozenPrefix(built.stages, depth, len(built.layer_groups), job.splits.fingerprint, job)
    return prefix if prefix.agrees(adapted.module) else None


@dataclass(frozen=True)
class FrozenPrefix:
    """Groups ``0..depth-1`` served from the cache; the trial runs ``depth..groups-1``."""

    stages: StagedForward
    depth: int
    groups: int
    fingerprint: str
    job: TrainingJob

    def forward(self, module: nn.Module) -> Callable[[Any], torch.Tensor]:
        """Logits of a batch of :meth:`device_split` rows."""

        def logits(batch: Mapping[str, Any]) -> torch.Tensor:
            return self.stages.run(module, _inputs(batch), batch[STATE], self.depth, self.groups)

        return logits

    def device_split(self, module: nn.Module, split: DataSplit, part: str) -> DeviceSplit:
        """``split`` on the device with the activations after group ``depth`` beside its inputs."""
        rows = to_device_split(split, self.job.device.device)
        inputs = dict(rows.inputs) if isinstance(rows.inputs, Mapping) else {INPUTS: rows.inputs}
        inputs[STATE] = self._activations(module, DeviceSplit(inputs, rows.labels), part)
        return DeviceSplit(inputs, rows.labels)

    def agrees(self, module: nn.Module) -> bool:
        """Whether the staged forward reproduces the model's logits (checked once per weights key)."""
        if self.stages.key not in _AGREEMENT:
            rows = to_device_split(self.job.splits.val, self.job.device.device)
            sample = rows.rows(torch.arange(min(4, len(rows)), device=rows.labels.device))
            _AGREEMENT[self.stages.key] = stages_agree(self.stages, module, sample, self.groups)
        return _AGREEMENT[self.stages.key]

    @torch.no_grad()
    def _activations(self, module: nn.Module, rows: DeviceSplit, part: str) -> torch.Tensor:
        cache = activation_cache()
        base = (self.stages.key, self.fingerprint, part, str(self.job.device.device))
        cached = cache.get((*base, self.depth))
        if cached is not None:
            return cached
        start = next((depth for depth in range(self.depth - 1, 0, -1) if (*base, depth) in cache), 0)
        previous = cache.get((*base, start)) if start else None
        inputs = {name: tensor for name, tensor in rows.inputs.items() if name != STATE}
        if previous is not None:
            inputs[STATE] = previous
        training = module.training
        module.eval()
        indices, chunks = [], []
        try:
            for index, batch in in_length_order(DeviceSplit(inputs, rows.labels), CHUNK_ROWS):
                indices.append(index)
                chunks.append(self._chunk(module, batch, start, split_mask=rows.inputs.get(MASK)))
        finally:
            module.train(training)
        state = restore_order(indices, chunks)
        if not cache.put((*base, self.depth), state):
            logger.warning("activation cache: %s activations of %d MiB exceed the budget", part, state.nbytes >> 20)
        logger.info("activation cache: %s split after group %d computed from group %d", part, self.depth, start)
        return state

    def _chunk(
        self, module: nn.Module, batch: dict[str, Any], start: int, split_mask: torch.Tensor | None
    ) -> torch.Tensor:
        with self.job.device.autocast():
            state = self.stages.run(module, _inputs(batch), batch.get(STATE), start, self.depth)
        # The chunk was trimmed to its longest row; pad per-token outputs back to the split's width.
        if split_mask is not None and state.ndim >= 2 and state.shape[1] == batch[MASK].shape[1] < split_mask.shape[1]:
            pad = [0, 0] * (state.ndim - 2) + [0, split_mask.shape[1] - state.shape[1]]
            state = F.pad(state, pad)
        return state


def _inputs(batch: Mapping[str, Any]) -> Any:
    if INPUTS in batch:
        return batch[INPUTS]
    return {name: tensor for name, tensor in batch.items() if name != STATE}
