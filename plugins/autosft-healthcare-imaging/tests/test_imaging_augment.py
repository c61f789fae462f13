"""Image augmentations: shapes and value ranges kept, identity at strength 0, seeded, global RNG untouched."""

from __future__ import annotations

import pytest
import torch
from autosft_healthcare_imaging.augment import AUGMENTATIONS, CutMix, FlipH, ImageMixup

from autosft.components import Augmentation
from autosft.errors import ConfigError

ALL = [augmentation() for augmentation in AUGMENTATIONS]


def _batch(rows: int = 8, channels: int = 3, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(123)
    images = torch.rand(rows, channels, size, size, generator=generator) * 4 - 2  # normalized-looking values
    targets = torch.nn.functional.one_hot(torch.arange(rows) % 2, 2).float()
    return images, targets


def _apply(augmentation: Augmentation, strength: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    images, targets = _batch()
    return augmentation.apply(images, targets, strength=strength, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("augmentation", ALL, ids=lambda a: a.name)
@pytest.mark.parametrize("strength", [0.3, 1.0])
def test_shape_dtype_and_per_channel_range_are_kept(augmentation: Augmentation, strength: float) -> None:
    images, targets = _batch()
    new_images, new_targets = _apply(augmentation, strength)
    assert new_images.shape == images.shape and new_images.dtype == images.dtype
    assert new_targets.shape == targets.shape
    low, high = images.amin(dim=(0, 2, 3)), images.amax(dim=(0, 2, 3))
    assert (new_images.amin(dim=(0, 2, 3)) >= low - 1e-5).all()
    assert (new_images.amax(dim=(0, 2, 3)) <= high + 1e-5).all()
    torch.testing.assert_close(new_targets.sum(dim=1), torch.ones(len(targets)))
    assert not torch.equal(new_images, images)


@pytest.mark.parametrize("augmentation", ALL, ids=lambda a: a.name)
def test_strength_zero_is_the_identity(augmentation: Augmentation) -> None:
    images, targets = _batch()
    new_images, new_targets = _apply(augmentation, 0.0)
    assert new_images is images or torch.equal(new_images, images)
    assert torch.equal(new_targets, targets)


@pytest.mark.parametrize("augmentation", ALL, ids=lambda a: a.name)
def test_reproducible_under_the_generator_and_global_rng_untouched(augmentation: Augmentation) -> None:
    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    first = _apply(augmentation, 0.8, seed=5)
    assert torch.equal(torch.rand(4), expected)  # kornia's draws came from a fork, not the caller's RNG
    second = _apply(augmentation, 0.8, seed=5)
    other = _apply(augmentation, 0.8, seed=6)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[0], other[0])


def test_successive_calls_differ_and_advance_the_generator() -> None:
    images, targets = _batch()
    generator = torch.Generator().manual_seed(0)
    one, _ = FlipH().apply(images, targets, strength=1.0, generator=generator)
    two, _ = FlipH().apply(images, targets, strength=1.0, generator=generator)
    assert not torch.equal(one, two)


def test_grey_batches_work() -> None:
    images, targets = _batch(channels=1)
    for augmentation in ALL:
        out, _ = augmentation.apply(images, targets, strength=1.0, generator=torch.Generator().manual_seed(0))
        assert out.shape == images.shape


def test_mixing_blends_targets_like_images() -> None:
    images, targets = _batch()
    _, mixed_targets = ImageMixup().apply(images, targets, strength=1.0, generator=torch.Generator().manual_seed(1))
    assert ((mixed_targets > 0) & (mixed_targets < 1)).any()
    cut_images, cut_targets = CutMix().apply(images, targets, strength=1.0, generator=torch.Generator().manual_seed(2))
    changed = (cut_images != images).any(dim=1)  # (rows, H, W): the pasted box
    share = changed.float().mean(dim=(1, 2))
    moved = (cut_targets - targets).abs()[:, 0]
    # rows whose partner has the other class move their target by the pasted share (or less: equal pixels)
    assert (moved <= share.max() + 1e-6).all() and moved.max() > 0


def test_single_row_batches_are_left_alone_by_mixing() -> None:
    images, targets = _batch(rows=1)
    out, mixed = CutMix().apply(images, targets, strength=1.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, images) and torch.equal(mixed, targets)


def test_vertical_flips_are_opt_in() -> None:
    assert {augmentation.name for augmentation in AUGMENTATIONS if augmentation.opt_in} == {"flip_hv"}
    assert all(augmentation.input_kinds == {"image"} for augmentation in ALL)


def test_non_image_inputs_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"needs an image batch shaped \(N, C, H, W\), got torch.Size\(\[4, 3\]\)"):
        FlipH().apply(torch.zeros(4, 3), torch.zeros(4, 2), strength=0.5, generator=torch.Generator())
