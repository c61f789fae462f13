"""Decoded splits kept once per process, and optionally on disk, keyed by the data fingerprint.

Decoding and resizing thousands of scans does not depend on the trial, so it happens once: a memory
cache serves every later load in the process (the search, the final test, a second study on the same
data), and the disk cache serves other worker processes and later runs. Disk files are written under
a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from autosft.components import DataSplit, Splits
from autosft.engine.cache import cache_dir as core_cache_dir
from autosft.engine.cache import save_npz

__all__ = ["cache_dir", "cached_splits", "clear_memory_cache", "file_signature", "fingerprint"]

logger = logging.getLogger(__name__)

#: Bumped whenever decoding or normalization changes, so older cache files are never read.
CACHE_VERSION = 2  # 2: splits carry their patients (groups)

_MEMORY: dict[str, Splits] = {}


def cache_dir() -> Path:
    """The image loaders' folder under the core's cache folder (``$AUTOSFT_CACHE_DIR`` or ``~/.cache/autosft``)."""
    return core_cache_dir() / "images"


def clear_memory_cache() -> None:
    """Forget the splits held in this process (disk files stay)."""
    _MEMORY.clear()


def file_signature(paths: Iterable[Path]) -> list[tuple[str, int, int]]:
    """(absolute path, size, modification time) of each existing file: cheap, and changes when a file does."""
    signature = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            signature.append((str(path.absolute()), -1, -1))
            continue
        signature.append((str(path.absolute()), stat.st_size, stat.st_mtime_ns))
    return signature


def fingerprint(**parts: Any) -> str:
    """The first 16 hex characters of a sha256 over ``parts`` (JSON, keys sorted) and the cache version."""
    text = json.dumps({**parts, "version": CACHE_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def cached_splits(key: str, build: Callable[[], Splits], *, disk: bool) -> Splits:
    """The splits under ``key`` from memory, else from disk (when asked), else built now and stored."""
    if key in _MEMORY:
        return _MEMORY[key]
    path = cache_dir() / f"{key}.npz"
    splits = _read(path) if disk and path.is_file() else None
    if splits is None:
        splits = build()
        if disk:
            _write(splits, path)
    _MEMORY[key] = splits
    return splits


def _write(splits: Splits, path: Path) -> None:
    arrays: dict[str, Any] = {}  # Any: numpy types savez(**kwds) as if every key could be allow_pickle
    for name in ("train", "val", "test"):
        split: DataSplit = getattr(splits, name)
        arrays[f"{name}_inputs"], arrays[f"{name}_labels"] = split.inputs, split.labels
        if split.groups is not None:
            arrays[f"{name}_groups"] = np.asarray(split.groups, dtype=str)
    meta = {
        "task": splits.task,
        "class_names": list(splits.class_names),
        "input_kind": splits.input_kind,
        "fingerprint": splits.fingerprint,
        "info": dict(splits.info),
        "group_unit": splits.group_unit,
    }
    arrays["meta"] = np.array(json.dumps(meta))
    save_npz(path, arrays, what="the healthcare_imaging image cache")


def _read(path: Path) -> Splits | None:
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            parts = {
                name: DataSplit(archive[f"{name}_inputs"], archive[f"{name}_labels"],
                                archive[f"{name}_groups"] if f"{name}_groups" in archive.files else None)
                for name in ("train", "val", "test")
            }  # fmt: skip
    except Exception as error:  # a corrupt or foreign file is rebuilt, never fatal
        logger.warning("healthcare_imaging: ignoring unreadable cache file %s (%s)", path, error)
        return None
    logger.info("healthcare_imaging: loaded decoded images from %s", path)
    return Splits(
        parts["train"],
        parts["val"],
        parts["test"],
        meta["task"],
        tuple(meta["class_names"]),
        meta["input_kind"],
        meta["fingerprint"],
        info=meta["info"],
        group_unit=meta.get("group_unit", "group"),
    )
