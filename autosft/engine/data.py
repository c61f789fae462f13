"""Splits as device tensors and the batches a trial trains on.

Small and medium splits are moved to the device once and sliced by index each step: no
DataLoader workers, no per-batch host-to-device copies, and batches are reproducible from a
seeded generator.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from autosft.components import DataSplit

__all__ = ["DeviceSplit", "iterate_batches", "to_device_split"]


@dataclass(frozen=True)
class DeviceSplit:
    """A split's inputs (a tensor or a mapping of tensors) and labels, on the training device."""

    inputs: Any
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def rows(self, index: torch.Tensor) -> Any:
        if isinstance(self.inputs, Mapping):
            return {name: tensor[index] for name, tensor in self.inputs.items()}
        return self.inputs[index]


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
    the stored one, as evaluation needs.
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
    for start in range(0, stop, batch_size):
        index = order[start : start + batch_size]
        yield split.rows(index), split.labels[index]
