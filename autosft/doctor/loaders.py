"""The doctor's check of a dataset loader: its example (or its default options) loads valid ``Splits``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

import numpy as np

from autosft.components import DatasetLoader, DataSplit, LoaderExample, Splits, TaskType
from autosft.doctor.findings import Finding, Status
from autosft.errors import AutosftError, ConfigError

__all__ = ["check_loader", "splits_problem"]

SPLIT_NAMES = ("train", "val", "test")
DEFAULTS = "its default options"


def _labels_problem(split: DataSplit, task: str, classes: int) -> str | None:
    labels = np.asarray(split.labels)
    if task == "multilabel":
        if labels.ndim != 2 or labels.shape[1] != classes or not np.isin(labels, (0, 1)).all():
            return f"multilabel labels must be a 0/1 matrix (rows, {classes}), got shape {labels.shape}"
        return None
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        return f"{task} labels must be one integer class index per row, got {labels.dtype} of shape {labels.shape}"
    if len(labels) and (labels.min() < 0 or labels.max() >= classes):
        return f"labels must lie in [0, {classes - 1}] (one per class name), got {labels.min()}..{labels.max()}"
    return None


def _layout(inputs: Any) -> Any:
    """Keys and per-row shapes of a split's inputs, which every split must share."""
    if isinstance(inputs, Mapping):
        return {key: np.shape(value)[1:] for key, value in inputs.items()}
    return np.shape(inputs)[1:]


def splits_problem(splits: Any, task: TaskType) -> str | None:
    """What makes ``splits`` break the ``Splits`` contract for ``task``, or ``None``."""
    if not isinstance(splits, Splits):
        return f"load() returned {type(splits).__name__}, not Splits; return Splits(train, val, test, ...)"
    if splits.task != task:
        return f"Splits.task is {splits.task!r} for a {task} study; pass the task given to load()"
    names = splits.class_names
    if not names or len(set(names)) != len(names) or not all(isinstance(name, str) for name in names):
        return f"class_names must be distinct strings, one per class, got {names!r}"
    if task == "binary" and len(names) != 2:
        return f"a binary task needs 2 class names, got {len(names)}"
    for field_name in ("input_kind", "fingerprint"):
        if not isinstance(getattr(splits, field_name), str) or not getattr(splits, field_name):
            return f"Splits.{field_name} must be a non-empty string"
    parts = {name: getattr(splits, name) for name in SPLIT_NAMES}
    if splits.pretrain is not None:
        parts["pretrain"] = splits.pretrain
    for name, split in parts.items():
        if not isinstance(split, DataSplit):
            return f"Splits.{name} is {type(split).__name__}, not a DataSplit"
        if name != "pretrain" and not len(split):
            return f"the {name} split is empty"
        problem = _labels_problem(split, task, len(names))
        if problem:
            return f"{name}: {problem}"
    layouts = {name: _layout(split.inputs) for name, split in parts.items() if name != "pretrain"}
    if len({repr(layout) for layout in layouts.values()}) != 1:
        return f"the splits' inputs differ in keys or row shape: {layouts}"
    return None


def _example(loader: DatasetLoader, folder: Path) -> tuple[LoaderExample | None, str]:
    """The loader's example, or its default options (the task to be found), or why there is neither."""
    example = loader.example(folder)
    if example is not None:
        return example, "its example"
    try:
        loader.Options()
    except Exception:  # a required option (a file): nothing to load without an example
        required = [name for name, field in loader.Options.model_fields.items() if field.is_required()]
        return None, (f"needs options ({', '.join(required)}) and declares no example; define "
                      "example(folder) returning LoaderExample(task, options) to have it checked")  # fmt: skip
    return None, DEFAULTS


def _load(loader: DatasetLoader, example: LoaderExample | None) -> tuple[Splits, TaskType]:
    """Load the example, or the default options with the first task they load; the last error otherwise."""
    from autosft.search.prepare import validate_options

    if example is not None:
        options = validate_options(loader.Options, dict(example.options), "its example's options")
        return loader.load(options, task=example.task, seed=0), example.task
    errors = []
    for task in get_args(TaskType):  # a loader names the task it does not serve with a ConfigError
        try:
            return loader.load(loader.Options(), task=task, seed=0), task
        except AutosftError as error:
            errors.append(f"{task}: {error}")
    raise ConfigError("; ".join(errors))


def check_loader(loader: DatasetLoader, plugin: str, folder: Path) -> tuple[Finding, Splits | None]:
    """Load the loader's example and check the ``Splits``; the splits too when valid (models build on them)."""

    def make(status: Status, detail: str) -> Finding:
        return Finding(status, plugin, "dataset", loader.name, detail)

    folder.mkdir(parents=True, exist_ok=True)
    try:
        example, source = _example(loader, folder)
    except Exception as error:  # the finding, not a crash
        return make("FAIL", f"example() raises {type(error).__name__}: {error}"), None
    if example is None and source != DEFAULTS:
        return make("skipped", source), None
    try:
        splits, task = _load(loader, example)
    except AutosftError as error:
        if example is not None:
            return make("FAIL", f"loading {source} fails: {error}"), None
        return make("skipped", f"loading {source} fails for every task ({error}); define example(folder) "
                               "returning LoaderExample(task, options) to have it checked"), None  # fmt: skip
    except Exception as error:
        return make("FAIL", f"loading {source} raises {type(error).__name__}: {error}"), None
    problem = splits_problem(splits, task)
    if problem:
        return make("FAIL", f"{source}: {problem}"), None
    sizes = ", ".join(f"{name} {len(getattr(splits, name))}" for name in SPLIT_NAMES)
    return make("ok", f"{source}: valid {task} Splits ({splits.input_kind}; {sizes} rows; "
                      f"{splits.num_classes} classes)"), splits  # fmt: skip
