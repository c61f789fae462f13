"""The three image dataset loaders: ``image_npz``, ``image_folder`` and ``image_manifest``.

Each lists its source, computes a fingerprint from the options and the files' sizes and modification
times, and builds its splits only when no cache holds them (:mod:`autosft.default_plugins.vision.cache`),
so the trials of a study never decode an image twice.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from autosft.components import DatasetLoader, LoaderExample, Splits, TaskType
from autosft.default_plugins.vision.assemble import (
    Rows,
    class_indices,
    decode_rows,
    finish,
    skipped_info,
    split_decoded,
)
from autosft.default_plugins.vision.cache import cached_splits, file_signature, fingerprint
from autosft.default_plugins.vision.decode import DecodeSpec, convert_stack
from autosft.default_plugins.vision.options import (
    FolderOptions,
    ManifestOptions,
    NpzOptions,
    SplitOptions,
)
from autosft.default_plugins.vision.splitting import SPLITS
from autosft.errors import ConfigError, DataError
from autosft.splitting import SPLIT_NAMES, hold_out_missing

__all__ = ["FolderDataset", "ManifestDataset", "NpzDataset"]

logger = logging.getLogger(__name__)


def _key(loader: str, options: SplitOptions, task: str, seed: int, files: list[Path]) -> str:
    settings = options.model_dump(mode="json", exclude={"disk_cache"})
    return fingerprint(loader=loader, options=settings, task=task, seed=seed, files=file_signature(files))


def _split_seed(options: SplitOptions, seed: int) -> int:
    return seed if options.split_seed is None else options.split_seed


def _single_label_only(loader: str, task: TaskType) -> None:
    if task == "multilabel":
        raise ConfigError(f"dataset {loader} reads one label per image; for task multilabel use image_npz")


def _from_rows(loader: str, rows: Rows, options: SplitOptions, *, task: TaskType, seed: int, key: str, source: str,
               declared: list[str]) -> Splits:  # fmt: skip
    """Decode listed files, split them and finish: what the folder and manifest loaders share."""
    class_indices(rows.labels, declared, rows.where, source)  # fail on a stray label before decoding anything
    decoded = decode_rows(rows, options)
    labels = class_indices(decoded.rows.labels, declared, decoded.rows.where, source)
    parts = split_decoded(decoded, labels, options, seed=seed, source=source)
    info: dict[str, Any] = {"loader": loader, "source": source, **skipped_info(decoded.skipped)}
    groups = None
    if decoded.rows.groups is not None:
        patients = np.asarray(decoded.rows.groups, dtype=str)
        groups = {name: patients[parts[name]] for name in SPLITS}
        info["patients"] = {name: len(set(groups[name].tolist())) for name in SPLITS}
    return finish(
        {name: decoded.images[parts[name]] for name in SPLITS},
        {name: labels[parts[name]] for name in SPLITS},
        declared, options, task=task, key=key, source=source, info=info, groups=groups,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# image_npz
# --------------------------------------------------------------------------------------------


_ALL_KEYS = {f"{name}_{kind}" for name in SPLITS for kind in ("images", "labels")}


class NpzDataset(DatasetLoader):
    """A MedMNIST-style ``.npz``: ``train_images``/``train_labels`` and optionally ``val_*``/``test_*``."""

    name: ClassVar[str] = "image_npz"
    description: ClassVar[str] = "MedMNIST-style .npz arrays (train/val/test images and labels), grey or RGB"
    Options: ClassVar[type[BaseModel]] = NpzOptions

    def example(self, folder: Path) -> LoaderExample:
        """Grey 28x28 images of two classes (dark and bright) in an ``.npz``, for `autosft plugins --check`."""
        rng = np.random.default_rng(0)
        arrays: dict[str, Any] = {}
        for split, rows in (("train", 16), ("val", 8), ("test", 8)):
            labels = np.arange(rows) % 2
            images = rng.integers(0, 96, (rows, 28, 28)) + 128 * labels[:, None, None]
            arrays[f"{split}_images"] = images.astype(np.uint8)
            arrays[f"{split}_labels"] = labels[:, None]
        np.savez(folder / "images.npz", **arrays)
        return LoaderExample("binary", {"path": str(folder / "images.npz"), "disk_cache": False})

    def load(self, options: BaseModel, *, task: TaskType, seed: int) -> Splits:
        assert isinstance(options, NpzOptions)
        path = options.path
        if not path.is_file():
            raise DataError(f"npz file {str(path)!r} does not exist")
        split_seed = _split_seed(options, seed)
        key = _key(self.name, options, task, split_seed, [path])
        return cached_splits(key, lambda: self._build(options, task, split_seed, key), disk=options.disk_cache)

    def _build(self, options: NpzOptions, task: TaskType, seed: int, key: str) -> Splits:
        source = repr(str(options.path))
        arrays = _read_npz(options.path)
        images = {name: _images(arrays[f"{name}_images"], f"{name}_images", source) for name in SPLITS if
                  f"{name}_images" in arrays}  # fmt: skip
        labels = {name: _labels(arrays[f"{name}_labels"], f"{name}_labels", len(images[name]), task, source)
                  for name in images}  # fmt: skip
        _same_geometry(images, options, source)
        declared = _npz_classes(labels, options, task, source)
        spec = DecodeSpec(options.image_size, options.channels)
        images = {name: convert_stack(stack, spec) for name, stack in images.items()}
        missing = [name for name in SPLITS if name not in images]
        if missing:  # hold the missing split(s) out of train, stratified
            strata = labels["train"] if labels["train"].ndim == 1 else labels["train"].argmax(axis=1)
            parts = hold_out_missing(
                np.arange(len(strata)), strata, None, missing=missing, val_fraction=options.val_fraction,
                test_fraction=options.test_fraction, seed=seed, source=source,
            )  # fmt: skip
            images = {**images, **{name: images["train"][rows] for name, rows in parts.items()}}
            labels = {**labels, **{name: labels["train"][rows] for name, rows in parts.items()}}
        info = {"loader": self.name, "source": source, "given_splits": [name for name in SPLITS if name not in missing]}
        return finish(images, labels, declared, options, task=task, key=key, source=source, info=info)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    source = repr(str(path))
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            if not {"train_images", "train_labels"} <= keys:
                found = ", ".join(sorted(keys)) or "none"
                raise DataError(f"npz file {source} lacks train_images/train_labels; it has keys: {found}")
            for name in ("val", "test"):
                if (f"{name}_images" in keys) != (f"{name}_labels" in keys):
                    raise DataError(f"npz file {source} has only one of {name}_images and {name}_labels")
            return {name: archive[name] for name in keys & _ALL_KEYS}
    except DataError:
        raise
    except Exception as error:  # zip, header and pickle errors all mean the same thing to the user
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"cannot read npz file {source}: {reason}") from None


def _images(array: np.ndarray, key: str, source: str) -> np.ndarray:
    """(N, H, W) or (N, H, W, 1|3) images as (N, H, W, C) float32 in [0, 1]."""
    if array.ndim == 3:
        array = array[:, :, :, None]
    if array.ndim != 4 or array.shape[3] not in (1, 3) or 0 in array.shape:
        raise DataError(
            f"npz file {source}: {key} has shape {array.shape}; expected (N, H, W) grey or (N, H, W, 1|3) images"
        )
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    if np.issubdtype(array.dtype, np.floating):
        low, high = float(np.nanmin(array)), float(np.nanmax(array))
        if np.isnan(array).any() or low < 0 or high > 1:
            raise DataError(
                f"npz file {source}: {key} holds floats in [{low:g}, {high:g}]; float images must lie in [0, 1]"
            )
        return array.astype(np.float32)
    raise DataError(f"npz file {source}: {key} has dtype {array.dtype}; expected uint8, uint16 or floats in [0, 1]")


def _labels(array: np.ndarray, key: str, rows: int, task: TaskType, source: str) -> np.ndarray:
    if task != "multilabel" and array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    expected = "(N, classes) of 0/1" if task == "multilabel" else "(N,) or (N, 1)"
    if (task == "multilabel") != (array.ndim == 2) or array.ndim not in (1, 2):
        raise DataError(f"npz file {source}: {key} has shape {array.shape}; task {task} needs labels shaped {expected}")
    if len(array) != rows:
        raise DataError(f"npz file {source}: {key} has {len(array)} labels for {rows} images")
    numeric = array.astype(np.float64)
    if not np.all(np.isfinite(numeric)) or not np.array_equal(numeric, np.round(numeric)):
        raise DataError(f"npz file {source}: {key} holds non-integer labels; expected class indices")
    return array.astype(np.int64)


def _same_geometry(images: dict[str, np.ndarray], options: NpzOptions, source: str) -> None:
    train = images["train"].shape[1:]
    for name, stack in images.items():
        shape = stack.shape[1:]
        if options.image_size is None and shape[:2] != train[:2]:
            raise DataError(
                f"npz file {source}: {name}_images are {shape[1]}x{shape[0]} "
                f"but train_images are {train[1]}x{train[0]}; "
                "set image_size to resize every image"
            )
        if options.channels is None and shape[2] != train[2]:
            raise DataError(
                f"npz file {source}: {name}_images have {shape[2]} channel(s) but train_images have {train[2]}; "
                "set channels to convert every image"
            )


def _npz_classes(labels: dict[str, np.ndarray], options: NpzOptions, task: TaskType, source: str) -> list[str]:
    declared = options.declared_classes()
    if task == "multilabel":
        width = labels["train"].shape[1]
        for name, values in labels.items():
            if values.shape[1] != width or not np.isin(values, (0, 1)).all():
                raise DataError(f"npz file {source}: {name}_labels must be a 0/1 matrix with {width} columns")
        if declared is not None and len(declared) != width:
            raise DataError(f"npz file {source} has {width} label columns but class_names names {len(declared)}")
        return declared or [str(index) for index in range(width)]
    count = len(declared) if declared is not None else int(max(values.max() for values in labels.values())) + 1
    for name, values in labels.items():
        outside = np.flatnonzero((values < 0) | (values >= count))
        if len(outside):
            row = int(outside[0])
            names = f" ({', '.join(declared)})" if declared is not None else ""
            raise DataError(
                f"npz file {source}: {name}_labels row {row} holds label {int(values[row])}, outside the declared "
                f"classes 0..{count - 1}{names}"
            )
    return declared or [str(index) for index in range(count)]


def _example_images(folder: Path) -> list[tuple[str, str]]:
    """Twelve dark and twelve bright 16x16 PNGs in ``folder/<class>/``, as (relative path, class) pairs."""
    from PIL import Image

    rng = np.random.default_rng(0)
    written = []
    for label, brightness in (("dark", 0), ("bright", 128)):
        (folder / label).mkdir(parents=True, exist_ok=True)
        for index in range(12):
            pixels = (rng.integers(0, 96, (16, 16)) + brightness).astype(np.uint8)
            Image.fromarray(pixels).save(folder / label / f"{index}.png")
            written.append((f"{label}/{index}.png", label))
    return written


# --------------------------------------------------------------------------------------------
# image_folder
# --------------------------------------------------------------------------------------------


class FolderDataset(DatasetLoader):
    """Images in class folders: ``root/<split>/<class>/*`` (a given split) or ``root/<class>/*``."""

    name: ClassVar[str] = "image_folder"
    description: ClassVar[str] = "image files in root/<split>/<class>/ (or root/<class>/, split here)"
    Options: ClassVar[type[BaseModel]] = FolderOptions

    def example(self, folder: Path) -> LoaderExample:
        """Two class folders of tiny PNGs, for `autosft plugins --check`."""
        _example_images(folder)
        return LoaderExample("binary", {"root": str(folder), "disk_cache": False})

    def load(self, options: BaseModel, *, task: TaskType, seed: int) -> Splits:
        assert isinstance(options, FolderOptions)
        _single_label_only(self.name, task)
        rows, class_folders = _list_folder(options)
        declared = options.declared_classes() or sorted(class_folders)
        split_seed = _split_seed(options, seed)
        key = _key(self.name, options, task, split_seed, rows.paths)
        source = f"image folder {str(options.root)!r}"

        def build() -> Splits:
            return _from_rows(self.name, rows, options, task=task, seed=split_seed, key=key, source=source,
                              declared=declared)  # fmt: skip

        return cached_splits(key, build, disk=options.disk_cache)


def _subfolders(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.is_dir() and not path.name.startswith("."))


def _class_files(folder: Path, declared: list[str] | None, extensions: list[str]) -> list[Path]:
    """The images below one class folder, which must be a declared class and hold at least one."""
    if declared is not None and folder.name not in declared:
        listed = ", ".join(declared)
        raise DataError(f"class folder {str(folder)!r} is not a declared class; declared classes: {listed}")
    files = sorted(
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in extensions and path.is_file() and not path.name.startswith(".")
    )
    if not files:
        raise DataError(f"class folder {str(folder)!r} has no images (suffixes {', '.join(extensions)})")
    return files


def _list_folder(options: FolderOptions) -> tuple[Rows, set[str]]:
    root = options.root
    if not root.is_dir():
        raise DataError(f"image folder {str(root)!r} does not exist")
    top = _subfolders(root)
    split_folders = [folder for folder in top if folder.name.lower() in SPLIT_NAMES]
    if split_folders:
        strays = [folder.name for folder in top if folder.name.lower() not in SPLIT_NAMES]
        if strays:
            raise DataError(
                f"image folder {str(root)!r} mixes split folders with other folders ({', '.join(strays)}); "
                "use root/<split>/<class>/ with splits train, val, test, or root/<class>/ alone"
            )
        named = [SPLIT_NAMES[folder.name.lower()] for folder in split_folders]
        if len(set(named)) != len(named):
            raise DataError(
                f"image folder {str(root)!r} has two folders for one split: {[f.name for f in split_folders]}"
            )
        layout = sorted(zip(split_folders, named, strict=True), key=lambda pair: SPLITS.index(pair[1]))
    else:
        layout = [(root, "")]
    declared = options.declared_classes()
    paths: list[Path] = []
    labels: list[str] = []
    splits: list[str] = []
    class_folders: set[str] = set()
    for folder, split in layout:
        classes = _subfolders(folder)
        if not classes:
            raise DataError(f"image folder {str(folder)!r} has no class folders")
        for class_folder in classes:
            files = _class_files(class_folder, declared, options.extensions)
            class_folders.add(class_folder.name)
            paths += files
            labels += [class_folder.name] * len(files)
            splits += [split] * len(files)
    where = [repr(str(path)) for path in paths]
    return Rows(paths, labels, where, splits if split_folders else None), class_folders


# --------------------------------------------------------------------------------------------
# image_manifest
# --------------------------------------------------------------------------------------------


class ManifestDataset(DatasetLoader):
    """A CSV listing image paths and labels, optionally a split and a patient id per image."""

    name: ClassVar[str] = "image_manifest"
    description: ClassVar[str] = "CSV of image path, label, optional split and patient id (patient-aware split)"
    Options: ClassVar[type[BaseModel]] = ManifestOptions

    def example(self, folder: Path) -> LoaderExample:
        """A manifest CSV of tiny PNGs in two classes, for `autosft plugins --check`."""
        with (folder / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "label"])
            writer.writerows(_example_images(folder))
        return LoaderExample("binary", {"path": str(folder / "manifest.csv"), "disk_cache": False})

    def load(self, options: BaseModel, *, task: TaskType, seed: int) -> Splits:
        assert isinstance(options, ManifestOptions)
        _single_label_only(self.name, task)
        rows = _read_manifest(options)
        declared = options.declared_classes() or sorted(set(rows.labels))
        split_seed = _split_seed(options, seed)
        key = _key(self.name, options, task, split_seed, [options.path, *rows.paths])
        source = f"manifest {str(options.path)!r}"

        def build() -> Splits:
            return _from_rows(self.name, rows, options, task=task, seed=split_seed, key=key, source=source,
                              declared=declared)  # fmt: skip

        return cached_splits(key, build, disk=options.disk_cache)


def _read_manifest(options: ManifestOptions) -> Rows:
    path = options.path
    source = repr(str(path))
    if not path.is_file():
        raise DataError(f"manifest {source} does not exist")
    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:
            reader = csv.DictReader(stream)
            columns = list(reader.fieldnames or [])
            records = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"cannot read manifest {source}: {str(error).splitlines()[0]}") from None
    wanted = [options.path_column, options.label_column, options.split_column, options.patient_column]
    for column in wanted:
        if column is not None and column not in columns:
            raise DataError(f"manifest {source} has no column {column!r}; its columns: {', '.join(columns) or 'none'}")
    if not records:
        raise DataError(f"manifest {source} has no rows")
    base = options.image_root if options.image_root is not None else path.parent
    rows = Rows([], [], [], [] if options.split_column else None, [] if options.patient_column else None)
    for line, record in enumerate(records, start=2):  # line 1 is the header
        here = f"manifest {source} line {line}"
        values = {column: (record.get(column) or "").strip() for column in wanted if column is not None}
        empty = [column for column, value in values.items() if not value]
        if empty:
            raise DataError(f"{here}: empty {', '.join(empty)}")
        image = Path(values[options.path_column])
        image = image if image.is_absolute() else base / image
        rows.paths.append(image)
        rows.labels.append(values[options.label_column])
        rows.where.append(f"{str(image)!r} ({here})")
        if rows.splits is not None:
            split = values[options.split_column or ""].lower()
            if split not in SPLIT_NAMES:
                raise DataError(f"{here}: unknown split {split!r}; valid: {', '.join(SPLIT_NAMES)}")
            rows.splits.append(SPLIT_NAMES[split])
        if rows.groups is not None:
            rows.groups.append(values[options.patient_column or ""])
    return rows
