"""Batch augmentations for preprocessed tabular inputs: ``feature_noise`` and ``mixup``.

Both run on the training device and draw every random number from the ``torch.Generator`` the
engine passes, so a trial is reproducible. The generator may live on the CPU while the batch is
on a GPU: draws happen on the generator's device and are then moved to the batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch

from autosft import Augmentation, ConfigError

__all__ = ["NOISE_SCALE", "FeatureNoise", "Mixup"]

#: Noise std at strength 1, in units of the standardized features (so 0.5 of a feature's spread).
NOISE_SCALE = 0.5


def _tensor_inputs(inputs: Any, name: str) -> torch.Tensor:
    if isinstance(inputs, Mapping) or not isinstance(inputs, torch.Tensor):
        raise ConfigError(f"augmentation {name!r} needs a tabular tensor batch, got {type(inputs).__name__}")
    return inputs


class FeatureNoise(Augmentation):
    """Adds Gaussian noise of std ``strength * 0.5`` to every feature; targets are unchanged.

    Inputs are standardized, so the same strength means the same relative jitter on every numeric
    column; on one-hot columns it blurs category membership a little, which also regularizes.
    """

    name: ClassVar[str] = "feature_noise"
    description: ClassVar[str] = "Gaussian noise on features, std = 0.5 * strength"
    input_kinds: ClassVar[frozenset[str]] = frozenset({"tabular"})

    def apply(
        self, inputs: Any, targets: torch.Tensor, *, strength: float, generator: torch.Generator
    ) -> tuple[Any, torch.Tensor]:
        batch = _tensor_inputs(inputs, self.name)
        if strength <= 0:
            return inputs, targets
        noise = torch.randn(batch.shape, generator=generator, device=generator.device, dtype=torch.float32)
        noise = noise.to(device=batch.device, dtype=batch.dtype)
        return batch + noise * (strength * NOISE_SCALE), targets


class Mixup(Augmentation):
    """Mixes each row and its soft target with another row of the batch (Zhang et al., 2018).

    The mixing weight is drawn from Beta(alpha, alpha) with ``alpha = 0.05 + 0.4 * strength``:
    small alphas put the weight near 0 or 1 (gentle mixing), larger ones nearer 0.5.
    """

    name: ClassVar[str] = "mixup"
    description: ClassVar[str] = "mix rows and soft targets, weight ~ Beta(a, a), a = 0.05 + 0.4 * strength"
    input_kinds: ClassVar[frozenset[str]] = frozenset({"tabular"})

    def apply(
        self, inputs: Any, targets: torch.Tensor, *, strength: float, generator: torch.Generator
    ) -> tuple[Any, torch.Tensor]:
        batch = _tensor_inputs(inputs, self.name)
        if strength <= 0 or len(batch) < 2:
            return inputs, targets
        alpha = 0.05 + 0.4 * strength
        # torch has no generator-driven Beta sampler, so a seed drawn from the generator feeds numpy's.
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
        weight = float(np.random.default_rng(seed).beta(alpha, alpha))
        order = torch.randperm(len(batch), generator=generator, device=generator.device).to(batch.device)
        mixed_inputs = weight * batch + (1.0 - weight) * batch[order]
        mixed_targets = weight * targets + (1.0 - weight) * targets[order.to(targets.device)]
        return mixed_inputs.to(batch.dtype), mixed_targets.to(targets.dtype)
