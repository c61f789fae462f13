"""Batch augmentations: shapes, identity at strength 0, reproducibility under a seeded generator."""

from __future__ import annotations

import pytest
import torch
from autosft_fraud_tabular.augment import FeatureNoise, Mixup

from autosft.components import Augmentation
from autosft.errors import ConfigError

AUGMENTATIONS = [FeatureNoise(), Mixup()]


def batch(rows: int = 16, features: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    inputs = torch.randn(rows, features, generator=torch.Generator().manual_seed(123))
    labels = torch.arange(rows) % 2
    return inputs, torch.nn.functional.one_hot(labels, 2).float()


@pytest.mark.parametrize("augmentation", AUGMENTATIONS, ids=lambda a: a.name)
def test_shapes_and_dtypes_are_kept(augmentation: Augmentation) -> None:
    inputs, targets = batch()
    new_inputs, new_targets = augmentation.apply(
        inputs, targets, strength=0.7, generator=torch.Generator().manual_seed(0)
    )
    assert new_inputs.shape == inputs.shape
    assert new_inputs.dtype == inputs.dtype
    assert new_targets.shape == targets.shape
    assert new_targets.dtype == targets.dtype
    assert not torch.equal(new_inputs, inputs)
    assert torch.allclose(new_targets.sum(dim=1), torch.ones(len(targets)))


@pytest.mark.parametrize("augmentation", AUGMENTATIONS, ids=lambda a: a.name)
def test_strength_zero_is_the_identity(augmentation: Augmentation) -> None:
    inputs, targets = batch()
    generator = torch.Generator().manual_seed(0)
    state = generator.get_state()
    new_inputs, new_targets = augmentation.apply(inputs, targets, strength=0.0, generator=generator)
    assert torch.equal(new_inputs, inputs)
    assert torch.equal(new_targets, targets)
    assert torch.equal(generator.get_state(), state)  # no random numbers were drawn


@pytest.mark.parametrize("augmentation", AUGMENTATIONS, ids=lambda a: a.name)
def test_reproducible_under_a_seeded_generator(augmentation: Augmentation) -> None:
    inputs, targets = batch()

    def run(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        return augmentation.apply(inputs, targets, strength=0.5, generator=torch.Generator().manual_seed(seed))

    first, again, other = run(1), run(1), run(2)
    assert torch.equal(first[0], again[0])
    assert torch.equal(first[1], again[1])
    assert not torch.equal(first[0], other[0])


def test_feature_noise_scales_with_strength() -> None:
    inputs = torch.zeros(4000, 10)
    targets = torch.zeros(4000, 2)
    noisy, same_targets = FeatureNoise().apply(
        inputs, targets, strength=0.4, generator=torch.Generator().manual_seed(0)
    )
    assert noisy.std().item() == pytest.approx(0.2, rel=0.03)
    assert same_targets is targets


def test_mixup_mixes_rows_and_targets_with_one_weight() -> None:
    inputs = torch.tensor([[0.0], [10.0]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    for seed in range(20):
        mixed, soft = Mixup().apply(inputs, targets, strength=1.0, generator=torch.Generator().manual_seed(seed))
        # Row values and soft targets move together: row 0 at x has positive-class weight x / 10.
        assert torch.allclose(soft[:, 1], mixed[:, 0] / 10.0, atol=1e-6)


def test_mapping_inputs_are_refused() -> None:
    with pytest.raises(ConfigError, match="tabular tensor batch"):
        Mixup().apply({"ids": torch.zeros(2, 3)}, torch.zeros(2, 2), strength=0.5, generator=torch.Generator())
