"""Built-in image components: the ``image_npz``, ``image_folder`` and ``image_manifest`` loaders and
the ``hf_image_classifier`` model.

- ``image_npz`` (MedMNIST-style arrays), ``image_folder`` (``root/<split>/<class>/*``) and
  ``image_manifest`` (a CSV of path, label, optional split and group id, e.g. a patient: a group
  never spans two splits), all decoded once with Pillow into normalized (N, C, H, W) float32
  inputs of kind ``image``. Decoding needs Pillow: ``pip install 'autosft[vision]'``; without it
  the loaders are not registered.
- ``hf_image_classifier``: a Hugging Face image classifier from the hub, a local folder, or a
  config with random weights, with layer groups and LoRA target sets read from its modules.

Domain-neutral, so they ship with autosft; the healthcare plugin adds kornia augmentations and
clinical metrics around them. The hooks import their component modules inside their bodies, so
``autosft --help`` never imports torch, Pillow or transformers.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from autosft.components import DatasetLoader, ModelBuilder
from autosft.hookspecs import hookimpl

__all__ = ["autosft_register_datasets", "autosft_register_models"]


@hookimpl(trylast=True)
def autosft_register_datasets(register: Callable[[DatasetLoader], None]) -> None:
    if importlib.util.find_spec("PIL") is None:  # the [vision] extra is not installed
        return
    from autosft.default_plugins.vision.loaders import FolderDataset, ManifestDataset, NpzDataset

    register(NpzDataset())
    register(FolderDataset())
    register(ManifestDataset())


@hookimpl(trylast=True)
def autosft_register_models(register: Callable[[ModelBuilder], None]) -> None:
    from autosft.default_plugins.vision.model import HFImageClassifier

    register(HFImageClassifier())
