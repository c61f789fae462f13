"""Small real image data for the plugin's tests: PNG trees, manifests and MedMNIST-style archives.

Images are learnable on purpose: class 1 carries a bright square in the upper left, class 0 in the
lower right, over noise, so a tiny model separates them in a few epochs.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

SIZE = 16

#: Tiny Hugging Face configs: a two-stage ResNet and a two-layer ViT, built in milliseconds.
TINY_RESNET: dict[str, Any] = {"model_type": "resnet", "embedding_size": 8, "hidden_sizes": [8, 16], "depths": [1, 1]}
TINY_VIT: dict[str, Any] = {
    "model_type": "vit", "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
    "intermediate_size": 32, "patch_size": 4,
}  # fmt: skip


def image_array(label: int, rng: np.random.Generator, size: int = SIZE, colour: bool = False) -> np.ndarray:
    """One uint8 image, (size, size) grey or (size, size, 3) colour, whose bright square marks its class."""
    image = rng.integers(0, 90, size=(size, size)).astype(np.float64)
    half = size // 2
    corner = (slice(1, half), slice(1, half)) if label == 1 else (slice(half, size - 1), slice(half, size - 1))
    image[corner] += 150
    image = np.clip(image, 0, 255).astype(np.uint8)
    return np.stack([image, image // 2, image], axis=2) if colour else image


def write_png(path: Path, label: int, rng: np.random.Generator, size: int = SIZE, colour: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image_array(label, rng, size, colour)).save(path)
    return path


def write_tree(root: Path, counts: dict[str, dict[str, int]], seed: int = 0) -> Path:
    """``root/<split>/<class>/<n>.png`` (or ``root/<class>/`` under the split name ``""``)."""
    rng = np.random.default_rng(seed)
    for split, classes in counts.items():
        for name, count in classes.items():
            for index in range(count):
                write_png(root / split / name / f"{index}.png", 1 if name == "sick" else 0, rng)
    return root


def write_manifest(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_npz(path: Path, counts: Sequence[int] = (96, 32, 32), *, colour: bool = False, column_labels: bool = False,
              seed: int = 0) -> Path:  # fmt: skip
    """A MedMNIST-style archive: uint8 images (N, H, W[, 3]) and labels (N,) or (N, 1), about a third class 1."""
    rng = np.random.default_rng(seed)
    arrays: dict[str, Any] = {}
    for split, count in zip(("train", "val", "test"), counts, strict=True):
        labels = (np.arange(count) % 3 == 0).astype(np.uint8)
        arrays[f"{split}_images"] = np.stack([image_array(int(label), rng, colour=colour) for label in labels])
        arrays[f"{split}_labels"] = labels[:, None] if column_labels else labels
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path
