"""autosft plugin for medical images.

Installing ``autosft-healthcare-imaging`` registers, through the ``autosft`` entry-point group:

- augmentations ``flip_h``, ``flip_hv`` (offered only when a study names it), ``affine``,
  ``resized_crop``, ``brightness_contrast``, ``gaussian_noise``, ``basic_policy``, ``image_mixup``,
  ``cutmix``, run batched on the training device with kornia;
- metrics ``sensitivity_at_specificity_90``, ``specificity_at_sensitivity_90``, ``sensitivity``,
  ``specificity``, ``worst_class_recall`` and ``ece``.

The image loaders (``image_npz``, ``image_folder``, ``image_manifest`` with its patient-aware
split) and the model ``hf_image_classifier`` are domain-neutral and ship with autosft
(:mod:`autosft.default_plugins.vision`). Class weights, focal loss and the balanced sampler are core
imbalance strategies and apply to images unchanged. This module holds hook implementations only;
each imports its component module inside the hook body, so listing plugins or ``autosft --help``
never imports torch, Pillow or transformers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from autosft import hookimpl

if TYPE_CHECKING:
    from autosft import Augmentation, Metric

__all__ = [
    "autosft_register_augmentations",
    "autosft_register_metrics",
]


@hookimpl
def autosft_register_augmentations(register: Callable[[Augmentation], None]) -> None:
    from autosft_healthcare_imaging.augment import AUGMENTATIONS

    for augmentation in AUGMENTATIONS:
        register(augmentation())


@hookimpl
def autosft_register_metrics(register: Callable[[Metric], None]) -> None:
    from autosft_healthcare_imaging.metrics import METRICS

    for metric in METRICS:
        register(metric)
