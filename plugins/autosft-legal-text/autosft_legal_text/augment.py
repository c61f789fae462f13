"""Token-level text augmentations on the training device: random deletion and random adjacent swaps.

Both work on token ids, so they need no word lists or synonym models (nothing to download), and
both leave the special tokens (first and last of each row) where they are. ``strength`` in [0, 1]
scales how much of a row changes; the search tunes it, and ``none`` is always an alternative.
Trials with an augmentation train on the whole model (their inputs change every batch), so the
frozen-prefix activation cache does not apply to them.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from autosft import Augmentation

__all__ = ["AUGMENTATIONS", "MAX_DELETE", "MAX_SWAP", "TokenDeletion", "TokenSwap", "content_positions"]

#: At strength 1, each content token is deleted with this probability ...
MAX_DELETE = 0.3
#: ... or swapped with its right neighbour with this one.
MAX_SWAP = 0.2


def content_positions(mask: torch.Tensor) -> torch.Tensor:
    """Positions holding text: attended, and neither the first token nor a row's last attended one."""
    lengths = mask.sum(dim=1, keepdim=True)
    positions = torch.arange(mask.shape[1], device=mask.device).unsqueeze(0)
    return mask.bool() & (positions > 0) & (positions < lengths - 1)


def _draw(shape: torch.Size, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(shape, generator=generator).to(device)


class TokenDeletion(Augmentation):
    name: ClassVar[str] = "token_deletion"
    description: ClassVar[str] = f"Delete each text token with probability {MAX_DELETE} x strength."
    input_kinds: ClassVar[frozenset[str]] = frozenset({"text"})

    def apply(
        self, inputs: Any, targets: torch.Tensor, *, strength: float, generator: torch.Generator
    ) -> tuple[Any, torch.Tensor]:
        mask = inputs["attention_mask"]
        content = content_positions(mask)
        drop = content & (_draw(mask.shape, generator, mask.device) < MAX_DELETE * strength)
        # Never delete every text token of a row: such rows keep their text unchanged.
        drop &= (content & ~drop).any(dim=1, keepdim=True)
        keep = mask.bool() & ~drop
        # A stable sort puts kept tokens first in their order; the rest is cut off by the new mask.
        order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)
        lengths = keep.sum(dim=1, keepdim=True)
        positions = torch.arange(mask.shape[1], device=mask.device).unsqueeze(0)
        moved = {name: torch.gather(tensor, 1, order) for name, tensor in inputs.items() if name != "attention_mask"}
        return {**moved, "attention_mask": (positions < lengths).to(mask.dtype)}, targets


class TokenSwap(Augmentation):
    name: ClassVar[str] = "token_swap"
    description: ClassVar[str] = f"Swap text tokens with their right neighbour with probability {MAX_SWAP} x strength."
    input_kinds: ClassVar[frozenset[str]] = frozenset({"text"})

    def apply(
        self, inputs: Any, targets: torch.Tensor, *, strength: float, generator: torch.Generator
    ) -> tuple[Any, torch.Tensor]:
        ids = inputs["input_ids"]
        content = content_positions(inputs["attention_mask"])
        pairable = content & torch.roll(content, -1, dims=1)
        chosen = pairable & (_draw(ids.shape, generator, ids.device) < MAX_SWAP * strength)
        chosen &= ~torch.roll(chosen, 1, dims=1)  # a token swaps at most once: no overlapping pairs
        partner = torch.roll(chosen, 1, dims=1)
        swapped = ids.clone()
        swapped[chosen] = torch.roll(ids, -1, dims=1)[chosen]
        swapped[partner] = torch.roll(ids, 1, dims=1)[partner]
        return {**inputs, "input_ids": swapped}, targets


AUGMENTATIONS: tuple[type[Augmentation], ...] = (TokenDeletion, TokenSwap)
