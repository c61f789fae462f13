"""Augmentations of item histories: crop the oldest items, mask items, reorder a stretch.

Each works on the left-padded ``items`` tokens of a batch on the training device, draws all its
randomness from the engine's generator, always keeps the newest item (the strongest signal, and
a row with no item left would have nothing to attend to), and at strength 0 changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch

from autosft import Augmentation
from autosft_retail_recsys.data import INPUT_KIND
from autosft_retail_recsys.sequences import PAD

__all__ = ["ItemMask", "SequenceCrop", "SequenceReorder"]


def _uniform(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    # Drawn on the CPU generator the engine hands over, then moved: identical on every device.
    return torch.rand(shape, generator=generator).to(device)


def _with_items(inputs: Mapping[str, torch.Tensor], items: torch.Tensor) -> dict[str, torch.Tensor]:
    return {**inputs, "items": items}


def _age(items: torch.Tensor) -> torch.Tensor:
    """Per position, how many items are newer than it (0 for the newest, the last column)."""
    return torch.arange(items.shape[1] - 1, -1, -1, device=items.device).expand_as(items)


class _HistoryAugmentation(Augmentation):
    input_kinds: ClassVar[frozenset[str]] = frozenset({INPUT_KIND})

    def apply(
        self, inputs: Any, targets: torch.Tensor, *, strength: float, generator: torch.Generator
    ) -> tuple[Any, torch.Tensor]:
        if strength <= 0:
            return inputs, targets
        return _with_items(inputs, self.transform(inputs["items"], strength, generator)), targets

    def transform(self, items: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError


class SequenceCrop(_HistoryAugmentation):
    name: ClassVar[str] = "sequence_crop"
    description: ClassVar[str] = "Keep only the newest part of each history: up to `strength` of it is cut"

    def transform(self, items: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
        lengths = (items != PAD).sum(dim=1)
        cut = (_uniform((len(items),), generator, items.device) * strength * lengths).floor()
        keep = (lengths - cut).clamp(min=1)
        return items.masked_fill(_age(items) >= keep[:, None], PAD)


class ItemMask(_HistoryAugmentation):
    name: ClassVar[str] = "item_mask"
    description: ClassVar[str] = "Blank each older item with probability 0.3 x strength"

    def transform(self, items: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
        blank = (_uniform(tuple(items.shape), generator, items.device) < 0.3 * strength) & (_age(items) > 0)
        return items.masked_fill(blank, PAD)


class SequenceReorder(_HistoryAugmentation):
    name: ClassVar[str] = "sequence_reorder"
    description: ClassVar[str] = "Shuffle a random stretch of up to half x strength of each history"

    def transform(self, items: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
        rows, width = items.shape
        older = (items != PAD).sum(dim=1) - 1  # the newest item stays where it is
        draws = _uniform((rows, 2), generator, items.device)
        span = (draws[:, 0] * 0.5 * strength * older).floor()
        start = width - 1 - older + (draws[:, 1] * (older - span + 1)).floor().clamp(max=older - span)
        position = torch.arange(width, device=items.device).expand(rows, width).float()
        inside = (position >= start[:, None]) & (position < (start + span)[:, None])
        # Positions inside the stretch get random keys within it; sorting by key shuffles only them.
        noise = _uniform((rows, width), generator, items.device)
        keys = torch.where(inside, start[:, None] + noise * span[:, None], position)
        return items.gather(1, keys.argsort(dim=1, stable=True))
