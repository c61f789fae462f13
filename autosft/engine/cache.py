"""Work shared across trials: pre-trained weights loaded once per process, inputs encoded once per
(encoder, data) in memory and on disk, and frozen layer groups' activations kept under an LRU budget.

None of this depends on the trial, so repeating it per trial only spends the search's time: a
tokenizer pass over ten thousand sentences, reading a checkpoint from disk, or running six frozen
encoder layers over the same rows every epoch. Disk files are written under a temporary name and
renamed, so a reader in another worker process never sees half a file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np

from autosft.components import DataSplit, InputEncoder, Splits

__all__ = [
    "ACTIVATION_BUDGET_ENV",
    "CACHE_ENV",
    "ActivationCache",
    "activation_cache",
    "cache_dir",
    "clear_caches",
    "encode_splits",
    "load_once",
    "save_npz",
    "write_atomically",
]

logger = logging.getLogger(__name__)

#: Environment variable naming the cache folder; ``~/.cache/autosft`` when unset.
CACHE_ENV = "AUTOSFT_CACHE_DIR"
#: Environment variable with the activation cache's budget in MiB (default 2048; 0 turns it off).
ACTIVATION_BUDGET_ENV = "AUTOSFT_ACTIVATION_CACHE_MB"
#: Bumped whenever the stored layout changes, so older files are never read.
CACHE_VERSION = 1
_PARTS = ("train", "val", "test", "pretrain")

T = TypeVar("T")
_ONCE: dict[Hashable, Any] = {}
_ENCODED: dict[str, Splits] = {}


def cache_dir() -> Path:
    """The folder every on-disk cache lives under: ``$AUTOSFT_CACHE_DIR``, else ``~/.cache/autosft``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "autosft")


def load_once(key: Hashable, load: Callable[[], T]) -> T:
    """``load()``'s result, computed on the first call with ``key`` in this process and kept.

    For what every trial reads and none changes, such as a checkpoint's state dict: builders copy
    from it (``load_state_dict`` copies) instead of reading the file again.
    """
    if key not in _ONCE:
        _ONCE[key] = load()
    return _ONCE[key]


def clear_caches() -> None:
    """Forget everything held in this process (disk files stay); the next activation cache reads its budget anew."""
    global _ACTIVATIONS
    _ONCE.clear()
    _ENCODED.clear()
    _ACTIVATIONS = None


# --------------------------------------------------------------------------------------------
# Atomic files
# --------------------------------------------------------------------------------------------


def write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Run ``write`` on a temporary file in ``path``'s folder (which must exist), then rename it to ``path``.

    A reader in another worker process sees the old file or the whole new one, never half of it; on
    any failure the temporary file is removed and the error raised.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_npz(path: Path, arrays: Mapping[str, Any], *, what: str) -> None:
    """Store ``arrays`` in the ``.npz`` file ``path`` atomically; if the disk refuses, warn about ``what`` and go on.

    For caches: a full or read-only disk costs the cache, never the study.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_atomically(path, lambda stream: np.savez(stream, **arrays))
    except OSError as error:
        logger.warning("cannot write %s %s (%s)", what, path, error)


# --------------------------------------------------------------------------------------------
# Encoded inputs
# --------------------------------------------------------------------------------------------


def encode_splits(splits: Splits, encoder: InputEncoder, *, disk: bool = True) -> Splits:
    """``splits`` with every part's inputs encoded, from memory, disk or the encoder, in that order.

    The result's fingerprint covers the encoder's key, so anything keyed by it downstream (the
    activation cache) tells a max length of 64 from one of 128.
    """
    key = hashlib.sha256(f"{CACHE_VERSION}\0{encoder.key}\0{splits.fingerprint}".encode()).hexdigest()[:24]
    if key in _ENCODED:
        return _ENCODED[key]
    path = cache_dir() / "encoded" / f"{key}.npz"
    parts = _read(path) if disk and path.is_file() else None
    if parts is None:
        parts = {name: dict(encoder.encode(split.inputs)) for name, split in _parts(splits).items()}
        if disk:
            _write(parts, path)
    changes: dict[str, Any] = {
        name: DataSplit(parts[name], split.labels, split.groups) for name, split in _parts(splits).items()
    }
    raw = {name: split.inputs for name, split in _parts(splits).items()}  # for references on raw inputs (TF-IDF)
    encoded = dataclasses.replace(splits, **changes, fingerprint=key, raw_inputs=raw)
    _ENCODED[key] = encoded
    return encoded


def _parts(splits: Splits) -> dict[str, DataSplit]:
    return {name: split for name in _PARTS if (split := getattr(splits, name)) is not None}


def _write(parts: Mapping[str, Mapping[str, np.ndarray]], path: Path) -> None:
    arrays = {f"{part}/{name}": array for part, inputs in parts.items() for name, array in inputs.items()}
    save_npz(path, arrays, what="the encoded-input cache")


def _read(path: Path) -> dict[str, dict[str, np.ndarray]] | None:
    try:
        with np.load(path, allow_pickle=False) as archive:
            parts: dict[str, dict[str, np.ndarray]] = {}
            for entry in archive.files:
                part, name = entry.split("/", 1)
                parts.setdefault(part, {})[name] = archive[entry]
    except Exception as error:  # a corrupt or foreign file is rebuilt, never fatal
        logger.warning("ignoring unreadable encoded-input cache %s (%s)", path, error)
        return None
    logger.info("encoded inputs read from %s", path)
    return parts


# --------------------------------------------------------------------------------------------
# Activations of frozen layer groups
# --------------------------------------------------------------------------------------------


class ActivationCache:
    """Tensors under hashable keys, evicting the least recently used beyond a budget in bytes."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self.hits = self.misses = 0

    @property
    def used_bytes(self) -> int:
        return sum(_nbytes(value) for value in self._entries.values())

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def lru_order(self) -> list[Hashable]:
        """Keys from least to most recently used."""
        return list(self._entries)

    def get(self, key: Hashable) -> Any | None:
        if key not in self._entries:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return self._entries[key]

    def put(self, key: Hashable, value: Any) -> bool:
        """Store ``value`` (a tensor) and evict the oldest entries over budget; false when it alone is too big."""
        size = _nbytes(value)
        if size > self.budget_bytes:
            return False
        self._entries[key] = value
        self._entries.move_to_end(key)
        while self.used_bytes > self.budget_bytes:
            evicted, _ = self._entries.popitem(last=False)
            logger.info("activation cache: evicted %s", evicted)
        return True

    def clear(self) -> None:
        self._entries.clear()
        self.hits = self.misses = 0


def _nbytes(value: Any) -> int:
    return int(value.element_size() * value.nelement())


_ACTIVATIONS: ActivationCache | None = None


def activation_cache() -> ActivationCache:
    """The process's activation cache, sized by ``AUTOSFT_ACTIVATION_CACHE_MB`` when first used."""
    global _ACTIVATIONS
    if _ACTIVATIONS is None:
        megabytes = float(os.environ.get(ACTIVATION_BUDGET_ENV) or 2048)
        _ACTIVATIONS = ActivationCache(int(megabytes * 2**20))
    return _ACTIVATIONS
