"""What the data checks see of a row, whatever the plugin: an exact key and a dense embedding.

Inputs are an array (tabular rows, images, rows first) or a mapping of arrays (token ids with an
attention mask). The exact key is a digest of a row's bytes, so equal rows match exactly across
splits. The embedding is a small dense vector on which near-duplicates are neighbours and a cheap
linear model can predict labels: arrays are flattened (wide ones pooled), token ids become a
hashed bag of tokens, and everything is standardized and reduced by PCA.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["MAX_DIMENSIONS", "TOKEN_BUCKETS", "embed", "missing_rows", "row_keys"]

#: Embedding width: enough for neighbours and a linear model, small enough to stay fast.
MAX_DIMENSIONS = 64
#: Flattened arrays wider than this are average-pooled to it first (a 224x224x3 image has 150k values).
MAX_RAW_WIDTH = 4096
#: Rows pooled at a time.
POOL_BLOCK = 1024
#: Hash buckets of the bag of tokens.
TOKEN_BUCKETS = 1024
#: Mapping keys holding token ids, and those that describe them rather than the content.
TOKEN_KEY = "input_ids"
MASK_KEY = "attention_mask"
STRUCTURAL_KEYS = frozenset({MASK_KEY, "token_type_ids", "position_ids"})


def _rows_first(array: np.ndarray) -> np.ndarray:
    """Rows first, everything else in one axis; also for a split with no rows (where -1 is ambiguous)."""
    return array.reshape(len(array), math.prod(array.shape[1:]))


def _parts(inputs: Any) -> list[tuple[str, np.ndarray]]:
    if isinstance(inputs, Mapping):
        return [(name, np.asarray(inputs[name])) for name in sorted(inputs)]
    return [("", np.asarray(inputs))]


def row_keys(inputs: Any) -> list[bytes]:
    """A 16-byte digest per row of every input array together (dtype and shape included)."""
    parts = [np.ascontiguousarray(_rows_first(array)) for _, array in _parts(inputs)]
    rows = len(parts[0])
    keys = []
    for row in range(rows):
        digest = hashlib.blake2b(digest_size=16)
        for part in parts:
            digest.update(part.dtype.str.encode())
            digest.update(part[row].tobytes())
        keys.append(digest.digest())
    return keys


def missing_rows(inputs: Any) -> tuple[np.ndarray, list[str]]:
    """Rows holding NaN or infinite values in any float array, and the names of those arrays."""
    flags = np.zeros(len(_parts(inputs)[0][1]), dtype=bool)
    names = []
    for name, array in _parts(inputs):
        if not np.issubdtype(array.dtype, np.floating):
            continue
        bad = ~np.isfinite(_rows_first(array)).all(axis=1)
        if bad.any():
            flags |= bad
            names.append(name or "inputs")
    return flags, names


def _bag_of_tokens(ids: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    ids = _rows_first(ids).astype(np.int64)
    weights = np.ones(ids.shape, dtype=np.float32) if mask is None else mask.reshape(ids.shape).astype(np.float32)
    counts = np.zeros((len(ids), TOKEN_BUCKETS), dtype=np.float32)
    rows = np.repeat(np.arange(len(ids)), ids.shape[1])
    np.add.at(counts, (rows, ids.ravel() % TOKEN_BUCKETS), weights.ravel())
    return np.log1p(counts)


def _flat(array: np.ndarray) -> np.ndarray:
    rows = _rows_first(array)
    width = rows.shape[1]
    if width <= MAX_RAW_WIDTH:
        return rows.astype(np.float32)
    # Contiguous chunks of a C-ordered image are runs of neighbouring pixels: a crude pooling,
    # a block of rows at a time so a large image set is never held whole as floats.
    starts = np.linspace(0, width, MAX_RAW_WIDTH, endpoint=False).astype(np.int64)
    sizes = np.diff(np.append(starts, width)).astype(np.float32)
    pooled = np.empty((len(rows), MAX_RAW_WIDTH), dtype=np.float32)
    for begin in range(0, len(rows), POOL_BLOCK):
        block = rows[begin : begin + POOL_BLOCK].astype(np.float32)
        pooled[begin : begin + POOL_BLOCK] = np.add.reduceat(block, starts, axis=1) / sizes
    return pooled


def _raw_features(inputs: Any) -> np.ndarray:
    parts = dict(_parts(inputs))
    blocks = []
    if TOKEN_KEY in parts:
        blocks.append(_bag_of_tokens(parts[TOKEN_KEY], parts.get(MASK_KEY)))
    blocks += [_flat(array) for name, array in parts.items() if name != TOKEN_KEY and name not in STRUCTURAL_KEYS]
    return np.concatenate(blocks, axis=1)


def embed(splits: Sequence[Any], *, seed: int) -> list[np.ndarray]:
    """Embeddings of each split's rows in one shared space (standardized over all rows, then PCA).

    Non-finite values become the column mean; constant columns are dropped, so a row is
    described only by what varies across the data.
    """
    raw = [_raw_features(inputs) for inputs in splits]
    sizes = [len(block) for block in raw]
    matrix = np.concatenate(raw, axis=0)
    matrix[~np.isfinite(matrix)] = np.nan
    mean = np.nanmean(matrix, axis=0) if matrix.size else np.zeros(matrix.shape[1])
    mean = np.nan_to_num(mean)
    matrix = np.where(np.isnan(matrix), mean, matrix)
    std = matrix.std(axis=0)
    varying = std > 1e-12
    matrix = (matrix[:, varying] - mean[varying]) / std[varying]
    if matrix.shape[1] > MAX_DIMENSIONS and len(matrix) > MAX_DIMENSIONS:
        from sklearn.decomposition import PCA

        matrix = PCA(MAX_DIMENSIONS, svd_solver="randomized", random_state=seed).fit_transform(matrix)
    return np.split(matrix, np.cumsum(sizes)[:-1])
