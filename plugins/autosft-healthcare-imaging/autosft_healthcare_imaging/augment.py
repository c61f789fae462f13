"""Batch image augmentations run on the training device with kornia, each tuned by a strength in [0, 1].

Every augmentation keeps the batch's shape and its per-channel value range (inputs are normalized,
so the range is taken from the batch itself: geometric transforms resample with reflection padding,
intensity transforms work in that range mapped to [0, 1] and clip). Strength 0 returns the batch
untouched. Kornia draws from torch's global random state, so each call forks it and seeds it from a
draw of the engine's generator: the same generator state gives the same augmented batch, and the
caller's global state is left as it was.

Vertical flips are not offered by default: in chest X-rays, mammograms and most ultrasound, up and
down carry anatomy, so a flipped image is a different (implausible) image. ``flip_hv`` is offered
only to studies that name it in ``search_space.augmentation.choices``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import torch

from autosft import Augmentation, ConfigError

__all__ = [
    "AUGMENTATIONS",
    "Affine",
    "BasicPolicy",
    "BrightnessContrast",
    "CutMix",
    "FlipH",
    "FlipHV",
    "GaussianNoise",
    "ImageMixup",
    "ResizedCrop",
]


def _batch(inputs: Any, name: str) -> torch.Tensor:
    if isinstance(inputs, Mapping) or not isinstance(inputs, torch.Tensor) or inputs.ndim != 4:
        shape = getattr(inputs, "shape", type(inputs).__name__)
        raise ConfigError(f"augmentation {name!r} needs an image batch shaped (N, C, H, W), got {shape}")
    return inputs


@contextlib.contextmanager
def _global_rng_from(generator: torch.Generator, device: torch.device) -> Iterator[None]:
    """Fork torch's global random state and seed it from one draw of ``generator``."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _channel_range(batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel minimum and span over the batch, shaped (1, C, 1, 1); the span is never 0."""
    low = batch.amin(dim=(0, 2, 3), keepdim=True)
    high = batch.amax(dim=(0, 2, 3), keepdim=True)
    return low, (high - low).clamp_min(1e-6)


class _ImageAugmentation(Augmentation):
    """Shared frame: checks, strength 0 as identity, seeded global RNG, dtype kept."""

    input_kinds: ClassVar[frozenset[str]] = frozenset({"image"})
    #: Whether the augmentation mixes rows (and so their targets); those need two rows or more.
    mixes_rows: ClassVar[bool] = False

    def apply(
        self, inputs: Any, targets: torch.Tensor, *, strength: float, generator: torch.Generator
    ) -> tuple[Any, torch.Tensor]:
        batch = _batch(inputs, self.name)
        if strength <= 0 or len(batch) < (2 if self.mixes_rows else 1):
            return inputs, targets
        strength = min(float(strength), 1.0)
        with _global_rng_from(generator, batch.device):
            images, mixed = self._transform(batch.float(), targets, strength)
        return images.to(batch.dtype), mixed

    def _transform(
        self, batch: torch.Tensor, targets: torch.Tensor, strength: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self._images(batch, strength), targets

    def _images(self, batch: torch.Tensor, strength: float) -> torch.Tensor:
        raise NotImplementedError


class FlipH(_ImageAugmentation):
    name: ClassVar[str] = "flip_h"
    description: ClassVar[str] = "horizontal flip with probability 0.5 * strength"

    def _images(self, batch: torch.Tensor, strength: float) -> torch.Tensor:
        from kornia.augmentation import RandomHorizontalFlip

        return RandomHorizontalFlip(p=0.5 * strength)(batch)


class FlipHV(_ImageAugmentation):
    name: ClassVar[str] = "flip_hv"
    opt_in: ClassVar[bool] = True
    description: ClassVar[str] = "horizontal and vertical flips, each with probability 0.5 * strength (opt-in)"

    def _images(self, batch: torch.Tensor, strength: float) -> torch.Tensor:
        from kornia.augmentation import RandomHorizontalFlip, RandomVerticalFlip

        return RandomVerticalFlip(p=0.5 * strength)(RandomHorizontalFlip(p=0.5 * strength)(batch))


class Affine(_ImageAugmentation):
    name: ClassVar[str] = "affine"
    description: ClassVar[str] = "rotation up to 15°, shift up to 10 %, scale ±10 %, all × strength"

    def _images(self, batch: torch.Tensor, strength: float) -> torch.Tensor:
        from kornia.augmentation import RandomAffine

        # Reflection padding and bilinear resampling only interpolate existing pixels: the range holds.
        transform = RandomAffine(
            degrees=15.0 * strength,
            translate=(0.1 * strength, 0.1 * strength),
            scale=(1.0 - 0.1 * strength, 1.0 + 0.1 * strength),
            padding_mode="reflection",
            p=1.0,
        )
        return transform(batch)


class ResizedCrop(_ImageAugmentation):
    name: ClassVar[str] = "resized_crop"
    description: ClassVar[str] = "crop keeping 100 % down to (100 - 50 × strength) % of the area, resized back"

    def _images(self, batch: torch.Tensor, strength: float) -> torch.Tensor:
        from kornia.augmentation import RandomResizedCrop

        stretch = 1.0 + 0.33 * strength
        transform = RandomResizedCrop(
            size=(batch.shape[2], batch.shape[3]),
            scale=(1.0 - 0.5 * strength, 1.0),
            ratio=(1 / stretch, stretch),
            p=1.0,
        )
        return transform(batch)


class BrightnessContrast(_ImageAugmentation):
    name: ClassVar[str] = "brightness_contrast"
    description: ClassVar[str] = "brightness shift up to ±20 % and contrast factor 1 ± 30 %, × strength"

    def _images(self, batch: torch.Tensor, strength: float) -> torch.Tensor:
        from kornia.augmentation import RandomBrightness, RandomContrast

        low, span = _channel_range(batch)
        unit = (batch - low) / span
        unit = RandomBrightness(brightness=(1 - 0.2 * strength, 1 + 0.2 * strength), p=1.0)(unit)
        unit = RandomContrast(contrast=(1 - 0.3 * strength, 1 + 0.3 * strength), p=1.0)(unit)
        return unit.clamp(0.0, 1.0) * span + low


class GaussianNoise(_ImageAugmentation):
    name: ClassVar[str] = "gaussian_noise"
    description: ClassVar[str] = "Gaussian noise of std 0.08 × strength of the value range, clipped to it"

    def _images(self, batch: torch.Tensor, strength: float) -> torch.Tensor:
        from kornia.augmentation import RandomGaussianNoise

        low, span = _channel_range(batch)
        unit = (batch - low) / span
        unit = RandomGaussianNoise(std=0.08 * strength, p=1.0)(unit)
        return unit.clamp(0.0, 1.0) * span + low


class BasicPolicy(_ImageAugmentation):
    name: ClassVar[str] = "basic_policy"
    description: ClassVar[str] = "flip_h, then affine, then brightness_contrast, all at the given strength"

    def _images(self, batch: torch.Tensor, strength: float) -> torch.Tensor:
        for step in (FlipH(), Affine(), BrightnessContrast()):
            batch = step._images(batch, strength)
        return batch


def _partners(batch: torch.Tensor) -> torch.Tensor:
    return torch.randperm(len(batch), device="cpu").to(batch.device)


class ImageMixup(_ImageAugmentation):
    name: ClassVar[str] = "image_mixup"
    description: ClassVar[str] = (
        "blend images and soft targets with a shuffled batch, weight ~ Beta(a, a), a = 0.1 + 0.3 × strength"
    )
    mixes_rows: ClassVar[bool] = True

    def _transform(
        self, batch: torch.Tensor, targets: torch.Tensor, strength: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        alpha = torch.tensor(0.1 + 0.3 * strength)
        weight = float(torch.distributions.Beta(alpha, alpha).sample())
        order = _partners(batch)
        images = weight * batch + (1.0 - weight) * batch[order]
        mixed = weight * targets + (1.0 - weight) * targets[order.to(targets.device)]
        return images, mixed.to(targets.dtype)


class CutMix(_ImageAugmentation):
    name: ClassVar[str] = "cutmix"
    description: ClassVar[str] = (
        "paste a box of up to 50 % × strength of the area from a shuffled batch; targets mixed by area"
    )
    mixes_rows: ClassVar[bool] = True

    def _transform(
        self, batch: torch.Tensor, targets: torch.Tensor, strength: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        height, width = batch.shape[2], batch.shape[3]
        area = float(torch.rand(())) * 0.5 * strength
        box_h, box_w = round(height * area**0.5), round(width * area**0.5)
        if box_h == 0 or box_w == 0:
            return batch, targets
        top = int(torch.randint(0, height - box_h + 1, ()))
        left = int(torch.randint(0, width - box_w + 1, ()))
        order = _partners(batch)
        images = batch.clone()
        images[:, :, top : top + box_h, left : left + box_w] = batch[order, :, top : top + box_h, left : left + box_w]
        pasted = box_h * box_w / (height * width)  # the exact share, after rounding the box to pixels
        mixed = (1.0 - pasted) * targets + pasted * targets[order.to(targets.device)]
        return images, mixed.to(targets.dtype)


#: Every augmentation this plugin registers.
AUGMENTATIONS: tuple[type[_ImageAugmentation], ...] = (
    FlipH, FlipHV, Affine, ResizedCrop, BrightnessContrast, GaussianNoise, BasicPolicy, ImageMixup, CutMix,
)  # fmt: skip
#: Augmentations offered only to studies that list them in ``search_space.augmentation.choices``.
