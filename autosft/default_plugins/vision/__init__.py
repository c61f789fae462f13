"""Built-in image component: the ``hf_image_classifier`` model.

A Hugging Face image classifier from the hub, a local folder, or a config with random weights,
with layer groups and LoRA target sets read from its modules. Domain-neutral, so it ships with
autosft; the healthcare plugin adds medical image loaders (patient-aware splits), augmentations
and clinical metrics around it. The hook imports the builder inside its body, so
``autosft --help`` never imports torch or transformers.
"""

from __future__ import annotations

from collections.abc import Callable

from autosft.components import ModelBuilder
from autosft.hookspecs import hookimpl

__all__ = ["autosft_register_models"]


@hookimpl(trylast=True)
def autosft_register_models(register: Callable[[ModelBuilder], None]) -> None:
    from autosft.default_plugins.vision.model import HFImageClassifier

    register(HFImageClassifier())
