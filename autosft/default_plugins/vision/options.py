"""Options of the image dataset loaders: what every loader shares, and each loader's own keys.

Validated at the edge with ``extra="forbid"``; cross-field rules live in the models' validators, and
rules that need the data (a mean list as long as the channel count) are checked when it is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from autosft.components import SplitOptions as BaseSplitOptions

__all__ = [
    "FolderOptions",
    "ImageOptions",
    "ManifestOptions",
    "NpzOptions",
    "SplitOptions",
]


class ImageOptions(BaseModel):
    """How images become model inputs, and how bad files are handled; shared by every loader."""

    model_config = ConfigDict(extra="forbid")

    image_size: int | None = Field(
        default=None,
        ge=4,
        le=4096,
        description="Resize every image to image_size x image_size; null keeps the stored size, "
        "which must then be the same for every image.",
    )
    channels: Literal[1, 3] | None = Field(
        default=None,
        description="1 converts colour to grey, 3 repeats grey into three channels (what ImageNet "
        "backbones expect); null keeps the stored channels, which must then agree.",
    )
    mean: float | list[float] = Field(
        default=0.5,
        description="Per-channel mean subtracted after scaling pixels to [0, 1]; one value or one per channel.",
    )
    std: float | list[float] = Field(
        default=0.5, description="Per-channel std divided by after the mean is subtracted."
    )
    class_names: list[str | int] | None = Field(
        default=None,
        description="The declared classes in index order; a label outside them is an error. Default: "
        "0..K-1 (npz), the class folder names (folder), the sorted label values (manifest).",
    )
    positive_class: str | int | None = Field(
        default=None,
        description="Binary tasks: the class scored as positive (moved to index 1); default the second class.",
    )
    on_bad_image: Literal["error", "skip"] = Field(
        default="error",
        description="error: a corrupt, truncated, odd-mode or odd-size image stops loading with its name; "
        "skip: such images are left out, counted and reported.",
    )
    disk_cache: bool = Field(
        default=False,
        description="Also keep decoded arrays on disk under $AUTOSFT_CACHE_DIR (default ~/.cache/autosft), "
        "so other processes and later runs skip decoding.",
    )

    @field_validator("std")
    @classmethod
    def _positive_std(cls, value: float | list[float]) -> float | list[float]:
        values = value if isinstance(value, list) else [value]
        if not values or any(item <= 0 for item in values):
            raise ValueError(f"std must be one positive number or a non-empty list of them, but got {value}")
        return value

    @field_validator("mean")
    @classmethod
    def _some_mean(cls, value: float | list[float]) -> float | list[float]:
        if isinstance(value, list) and not value:
            raise ValueError("mean must be a number or a non-empty list")
        return value

    @field_validator("class_names")
    @classmethod
    def _distinct_names(cls, value: list[str | int] | None) -> list[str | int] | None:
        if value is not None:
            names = [str(item) for item in value]
            if len(names) < 2 or len(set(names)) != len(names):
                raise ValueError(f"class_names must list at least two distinct classes, but got {value}")
        return value

    def declared_classes(self) -> list[str] | None:
        return None if self.class_names is None else [str(name) for name in self.class_names]


class SplitOptions(ImageOptions, BaseSplitOptions):
    """How rows without a given split are divided (stratified, and by patient when there are ids)."""

    val_fraction: float = Field(default=0.15, gt=0, lt=1, description="Share of rows for validation.")
    test_fraction: float = Field(default=0.15, gt=0, lt=1, description="Share of rows for the final test.")


class NpzOptions(SplitOptions):
    """Options of ``image_npz``: a MedMNIST-style archive of image and label arrays."""

    path: Path = Field(description="The .npz file with train_images/train_labels (and val_*, test_*).")


class FolderOptions(SplitOptions):
    """Options of ``image_folder``: ``root/<split>/<class>/*`` or ``root/<class>/*``."""

    root: Path = Field(description="Folder holding split folders (train, val, test) or class folders.")
    extensions: list[str] = Field(
        default=[".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"],
        min_length=1,
        description="File suffixes read as images (case-insensitive); other files are ignored.",
    )

    @field_validator("extensions")
    @classmethod
    def _dotted(cls, value: list[str]) -> list[str]:
        return [item.lower() if item.startswith(".") else f".{item.lower()}" for item in value]


class ManifestOptions(SplitOptions):
    """Options of ``image_manifest``: a CSV naming each image, its label and optionally split and patient."""

    path: Path = Field(description="The CSV manifest.")
    image_root: Path | None = Field(
        default=None, description="Folder relative image paths resolve against; default the manifest's folder."
    )
    path_column: str = Field(default="path", min_length=1, description="Column of image file paths.")
    label_column: str = Field(default="label", min_length=1, description="Column of labels.")
    split_column: str | None = Field(
        default=None, description="Column of split names (train/val/test); without it rows are split here."
    )
    patient_column: str | None = Field(
        default=None, description="Column of patient ids; a patient's images all land in one split."
    )
