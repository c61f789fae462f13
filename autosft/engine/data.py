"""Splits as device tensors and the batches a trial trains on.

Small and medium splits are moved to the device once and sliced by index each step: no
DataLoader workers, no per-batch host-to-device copies, and batches are reproducible from a
seeded generator. Inputs with an ``attention_mask`` (token sequences) are padded per batch only to
its longest row, and training batches group rows of similar length, so a batch of short sentences
does not pay for the longest one in the split.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from autosft.components import DataSplit

__all__ = [
    "BUCKET_BATCHES",
    "DeviceSplit",
    "in_length_order",
    "iterate_batches",
    "restore_order",
    "to_device_split",
    "trim_padding",
]

#: Length bucketing sorts windows of this many batches by length: batches stay random, rows alike.
BUCKET_BATCHES = 32
MASK = "attention_mask"


@dataclass(frozen=True)
class DeviceSplit:
    """A split's inputs (a tensor or a mapping of tensors) and labels, on the training device."""

    inputs: Any
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def rows(self, index: torch.Tensor) -> Any:
        if isinstance(self.inputs, Mapping):
            return trim_padding({name: tensor[index] for name, tensor in self.inputs.items()})
        return self.inputs[index]

    def lengths(self) -> torch.Tensor | None:
        """Tokens per row for sequence inputs, else ``None``."""
        if isinstance(self.inputs, Mapping) and MASK in self.inputs:
            return self.inputs[MASK].sum(dim=1)
        return None


def trim_padding(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Cut padding columns no row of the batch uses from every tensor shaped like its attention mask.

    Any tensor whose second dimension has the mask's width is a per-token tensor (token ids, type
    ids, cached hidden states) and is cut to the last column any row attends to.
    """
    mask = batch.get(MASK)
    if mask is None or mask.ndim != 2:
        return batch
    width = mask.shape[1]
    used = int(torch.nonzero(mask.any(dim=0)).max().item()) + 1 if bool(mask.any()) else 1
    if used == width:
        return batch
    return {name: t[:, :used] if t.ndim >= 2 and t.shape[1] == width else t for name, t in batch.items()}


def _tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.is_floating_point():
        tensor = tensor.float()
    return tensor.to(device)


def to_device_split(split: DataSplit, device: torch.device) -> DeviceSplit:
    """Copy a split to ``device`` once; float inputs become float32."""
    if isinstance(split.inputs, Mapping):
        inputs: Any = {name: _tensor(array, device) for name, array in split.inputs.items()}
    else:
        inputs = _tensor(split.inputs, device)
    return DeviceSplit(inputs, _tensor(split.labels, device))


def iterate_batches(
    split: DeviceSplit,
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    sampling_weights: torch.Tensor | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[Any, torch.Tensor]]:
    """Yield ``(inputs, labels)`` batches.

    With a generator the order is shuffled; with sampling weights, rows are drawn with replacement
    in proportion to their weight (an epoch keeps the split's size). Without either, the order is
    the stored one, as evaluation needs. Shuffled sequence inputs are bucketed by length.
    """
    count = len(split)
    if sampling_weights is not None:
        order = torch.multinomial(sampling_weights, count, replacement=True, generator=generator)
    elif generator is not None:
        order = torch.randperm(count, generator=generator)
    else:
        order = torch.arange(count)
    order = order.to(split.labels.device)
    stop = count - count % batch_size if drop_last and count >= batch_size else count
    lengths = split.lengths()
    if generator is not None and lengths is not None:
        batches = _bucketed(order[:stop], lengths, batch_size, generator)
    else:
        batches = list(torch.split(order[:stop], batch_size))
    for index in batches:
        yield split.rows(index), split.labels[index]


def _bucketed(
    order: torch.Tensor, lengths: torch.Tensor, batch_size: int, generator: torch.Generator
) -> list[torch.Tensor]:
    """Batches of rows of similar length: sort windows of the shuffled order by length, then shuffle the batches."""
    window = batch_size * BUCKET_BATCHES
    batches: list[torch.Tensor] = []
    for start in range(0, len(order), window):
        chunk = order[start : start + window]
        chunk = chunk[torch.argsort(lengths[chunk], stable=True)]
        batches.extend(torch.split(chunk, batch_size))
    shuffled = torch.randperm(len(batches), generator=generator)
    return [batches[i] for i in shuffled.tolist()]


def in_length_order(split: DeviceSplit, chunk_rows: int) -> Iterator[tuple[torch.Tensor, Any]]:
    """``(row indices, inputs)`` chunks covering every row once, shortest first, for inference.

    Sequence rows sorted by length pad each chunk only to its own longest row; callers put the
    results back in stored order with the indices. Other inputs come in stored order.
    """
    lengths = split.lengths()
    if lengths is None:
        order = torch.arange(len(split), device=split.labels.device)
    else:
        order = torch.argsort(lengths, stable=True)
    for start in range(0, len(split), chunk_rows):
        index = order[start : start + chunk_rows]
        yield index, split.rows(index)


def restore_order(indices: list[torch.Tensor], chunks: list[torch.Tensor]) -> torch.Tensor:
    """Rows of ``chunks`` (computed for ``indices``) put back in stored order."""
    stacked = torch.cat(chunks)
    ordered = torch.empty_like(stacked)
    ordered[torch.cat(indices)] = stacked
    return ordered
