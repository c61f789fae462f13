"""The shared path from listed or stored images to checked, split and normalized :class:`Splits`.

The folder and manifest loaders list files as :class:`Rows`; :func:`decode_rows` decodes them and
applies the ``on_bad_image`` rule; :func:`finish` (also used by the npz loader) maps labels to the
declared classes, moves the positive class to index 1, checks that every split holds every class,
normalizes and lays the arrays out as (N, C, H, W) float32.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autosft.components import DataSplit, Splits, TaskType
from autosft.default_plugins.vision.decode import BadImage, DecodeSpec, decode_files, describe_shape, odd_one_out
from autosft.default_plugins.vision.options import ImageOptions, SplitOptions
from autosft.default_plugins.vision.splitting import SPLITS, UNIT, check_patients, split_rows
from autosft.errors import ConfigError, DataError
from autosft.splitting import hold_out_missing

__all__ = ["INPUT_KIND", "Decoded", "Rows", "class_indices", "decode_rows", "finish", "skipped_info", "split_decoded"]

logger = logging.getLogger(__name__)

INPUT_KIND = "image"
#: How many skipped files ``Splits.info`` names (the count is always complete).
LISTED_SKIPS = 20


@dataclass
class Rows:
    """Image files before decoding: label per file, and split and patient when the data gives them."""

    paths: list[Path]
    labels: list[str]
    where: list[str]  # how an error names each row: the file, or the manifest row
    splits: list[str] | None = None
    groups: list[str] | None = None

    def subset(self, keep: list[int]) -> Rows:
        def pick(values: list[str] | None) -> list[str] | None:
            return None if values is None else [values[index] for index in keep]

        return Rows(
            [self.paths[index] for index in keep],
            [self.labels[index] for index in keep],
            [self.where[index] for index in keep],
            pick(self.splits),
            pick(self.groups),
        )


@dataclass
class Decoded:
    """Decoded images of the rows that survived, and what was skipped."""

    rows: Rows
    images: np.ndarray  # (N, H, W, C) float32 in [0, 1]
    skipped: list[str] = field(default_factory=list)


def class_indices(labels: list[str], declared: list[str], where: list[str], source: str) -> np.ndarray:
    """Each label's index in ``declared``; a label outside it is an error naming its row."""
    index = {name: position for position, name in enumerate(declared)}
    for label, row in zip(labels, where, strict=True):
        if label not in index:
            raise DataError(f"{row}: label {label!r} is not a declared class; declared classes: {', '.join(declared)}")
    return np.array([index[label] for label in labels], dtype=np.int64)


def decode_rows(rows: Rows, options: ImageOptions) -> Decoded:
    """Decode every listed file; bad ones raise a one-line :class:`DataError` or are skipped.

    Without ``image_size`` (or ``channels``) every image must share the most common size (or
    channel count); the odd ones out are bad images too, reported with what they are.
    """
    spec = DecodeSpec(options.image_size, options.channels)
    keep: list[int] = []
    arrays: list[np.ndarray] = []
    skipped: list[str] = []
    for position, result in enumerate(decode_files(rows.paths, spec)):
        if isinstance(result, BadImage):
            _bad(rows.where[position], str(result), options, skipped)
        else:
            keep.append(position)
            arrays.append(result)
    if arrays:
        common, odd = odd_one_out(arrays)
        for position in odd:
            shape = arrays[position].shape
            fix = " and ".join(["image_size"] * (shape[:2] != common[:2]) + ["channels"] * (shape[2] != common[2]))
            seen, usual = describe_shape(shape), describe_shape(common)
            reason = f"is {seen} but most images are {usual}; set {fix} to convert every image"
            _bad(rows.where[keep[position]], reason, options, skipped)
        odd_set = set(odd)
        keep = [row for position, row in enumerate(keep) if position not in odd_set]
        arrays = [array for position, array in enumerate(arrays) if position not in odd_set]
    if skipped:
        shown = "; ".join(skipped[:3])
        logger.warning("healthcare_imaging: skipped %d bad image(s) (on_bad_image: skip), e.g. %s", len(skipped), shown)
    if not arrays:
        raise DataError(f"no usable image among {len(rows.paths)} files ({len(skipped)} skipped as bad)")
    return Decoded(rows.subset(keep), np.stack(arrays), skipped)


def _bad(where: str, reason: str, options: ImageOptions, skipped: list[str]) -> None:
    if options.on_bad_image == "error":
        raise DataError(f"image {where} {reason} (on_bad_image: skip leaves such images out)")
    skipped.append(f"{where}: {reason}")


def skipped_info(skipped: list[str]) -> dict[str, Any]:
    return {"skipped_images": len(skipped), "skipped_examples": skipped[:LISTED_SKIPS]}


def split_decoded(
    decoded: Decoded, labels: np.ndarray, options: SplitOptions, *, seed: int, source: str
) -> dict[str, np.ndarray]:
    """Row indices per split: the data's own split where it has one, else a stratified (patient-aware) split.

    Data that names train but lacks val or test gets the missing split(s) held out of its train rows.
    """
    rows = decoded.rows
    split_seed = seed if options.split_seed is None else options.split_seed
    if rows.splits is None:
        return split_rows(
            labels, rows.groups, val_fraction=options.val_fraction, test_fraction=options.test_fraction,
            seed=split_seed, source=source,
        )  # fmt: skip
    if rows.groups is not None:
        check_patients(rows.groups, rows.splits, source)
    chosen = np.asarray(rows.splits)
    parts = {name: np.flatnonzero(chosen == name) for name in SPLITS}
    if not len(parts["train"]):
        raise DataError(f"{source} has no train images")
    missing = [name for name in ("val", "test") if not len(parts[name])]
    filled = hold_out_missing(
        parts["train"], labels, rows.groups, missing=missing, val_fraction=options.val_fraction,
        test_fraction=options.test_fraction, seed=split_seed, source=source, unit=UNIT,
    )  # fmt: skip
    return {**parts, **filled}


def finish(
    images: dict[str, np.ndarray],
    labels: dict[str, np.ndarray],
    class_names: list[str],
    options: ImageOptions,
    *,
    task: TaskType,
    key: str,
    source: str,
    info: dict[str, Any],
    groups: dict[str, np.ndarray] | None = None,
) -> Splits:
    """Checked, normalized (N, C, H, W) float32 splits from (N, H, W, C) [0, 1] images and class indices;
    ``groups`` (each split's patient per image), where the data has them, ride along for cross-validation."""
    class_names, labels = _positive_last(class_names, labels, options, task, source)
    if task == "binary" and len(class_names) != 2:
        raise DataError(
            f"task binary needs exactly 2 classes, but {source} has {len(class_names)}: {', '.join(class_names)}; "
            "use task multiclass"
        )
    if task != "multilabel":
        for name in SPLITS:
            present = set(np.unique(labels[name]).tolist())
            lacking = [class_names[index] for index in range(len(class_names)) if index not in present]
            if lacking:
                raise DataError(
                    f"{source}: the {name} split has no image of class(es) {', '.join(lacking)}; every split needs "
                    "every class (adjust val_fraction/test_fraction or class_names)"
                )
    channels = images["train"].shape[3]
    mean, std = _per_channel(options.mean, "mean", channels), _per_channel(options.std, "std", channels)
    splits = {name: DataSplit(_normalized(images[name], mean, std), labels[name], None if groups is None else
                              groups[name]) for name in SPLITS}  # fmt: skip
    height, width = images["train"].shape[1:3]
    info = {
        **info,
        "image_shape": [channels, height, width],
        "mean": mean.tolist(),
        "std": std.tolist(),
        "rows": {name: len(labels[name]) for name in SPLITS},
        "class_counts": {name: _counts(labels[name], len(class_names)) for name in SPLITS},
    }
    if task == "binary":
        info["positive_class"] = class_names[1]
    return Splits(splits["train"], splits["val"], splits["test"], task, tuple(class_names), INPUT_KIND, key, info=info,
                  group_unit=UNIT)  # fmt: skip


def _positive_last(
    class_names: list[str], labels: dict[str, np.ndarray], options: ImageOptions, task: TaskType, source: str
) -> tuple[list[str], dict[str, np.ndarray]]:
    """Binary metrics score class index 1 as positive; move ``positive_class`` there."""
    if options.positive_class is None:
        return class_names, labels
    if task != "binary":
        raise ConfigError(f"positive_class applies to task binary only, but the task is {task}")
    wanted = str(options.positive_class)
    if wanted not in class_names:
        raise ConfigError(f"positive_class {wanted!r} is not a class of {source}; classes: {', '.join(class_names)}")
    if class_names.index(wanted) == 1:
        return class_names, labels
    swapped = {name: (1 - values).astype(np.int64) for name, values in labels.items()}
    return [class_names[1], class_names[0]], swapped


def _per_channel(value: float | list[float], name: str, channels: int) -> np.ndarray:
    values = value if isinstance(value, list) else [value]
    if len(values) == 1:
        values = values * channels
    if len(values) != channels:
        raise ConfigError(
            f"dataset option {name} has {len(values)} values, but the images have {channels} channel(s); "
            "give one value or one per channel"
        )
    return np.asarray(values, dtype=np.float32)


def _normalized(images: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    scaled = (images - mean) / std
    return np.ascontiguousarray(scaled.transpose(0, 3, 1, 2), dtype=np.float32)


def _counts(labels: np.ndarray, classes: int) -> list[int]:
    if labels.ndim == 2:
        return labels.sum(axis=0).astype(int).tolist()
    return np.bincount(labels, minlength=classes).astype(int).tolist()
