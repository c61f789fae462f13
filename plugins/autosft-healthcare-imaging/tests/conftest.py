"""Fixtures of the plugin's tests: offline Hugging Face, fresh caches, a local pre-trained checkpoint."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from imaging_helpers import TINY_RESNET, TINY_VIT

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _fresh_caches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test starts with empty in-process caches and its own disk cache folder."""
    from autosft.default_plugins.vision.cache import clear_memory_cache

    monkeypatch.setenv("AUTOSFT_CACHE_DIR", str(tmp_path / "cache"))
    clear_memory_cache()
    yield
    clear_memory_cache()


@pytest.fixture(scope="session")
def pretrained_dir(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny ResNet and ViT checkpoints saved with ``save_pretrained`` (5 classes), as a hub download would be."""
    import torch
    from transformers import AutoConfig, AutoModelForImageClassification

    folders = {}
    for name, settings in (("resnet", TINY_RESNET), ("vit", TINY_VIT)):
        options = {key: value for key, value in settings.items() if key != "model_type"}
        config = AutoConfig.for_model(settings["model_type"], num_labels=5, num_channels=1, image_size=16, **options)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1)
            model = AutoModelForImageClassification.from_config(config)
        folder = tmp_path_factory.mktemp(f"pretrained-{name}")
        model.save_pretrained(folder)
        folders[name] = folder
    return folders
