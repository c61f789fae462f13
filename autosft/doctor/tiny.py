"""Tiny generated data per input kind, for checking a component without the user's data.

A few rows with every class present, seeded: enough for a forward and backward pass, a metric, an
augmentation or a resampling to show that it keeps the contract, and fast on any machine.
``autosft.testing`` re-exports these for plugin tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autosft.components import DataSplit, Splits, TaskType

__all__ = ["TINY_KINDS", "tiny_batch_inputs", "tiny_labels", "tiny_probabilities", "tiny_splits"]

#: The input kinds :func:`tiny_splits` generates, in the order the doctor tries them on a builder.
TINY_KINDS = ("tabular", "text", "image", "item_sequence")
#: Features of tabular rows, side of square images, tokens (items) per sequence row.
FEATURES, IMAGE_SIDE, SEQUENCE_LENGTH = 4, 32, 6
#: Classes for binary, multiclass and multilabel; items of the ranking catalogue.
CLASSES: dict[TaskType, int] = {"binary": 2, "multiclass": 3, "multilabel": 3, "ranking": 12}
#: The probability a perfect prediction leaves to the wrong classes.
PERFECT_SLACK = 1e-3
WORDS = ("contract", "notice", "payment", "breach", "term", "party", "clause", "court")


def tiny_labels(task: TaskType, rows: int, rng: np.random.Generator, *, classes: int | None = None) -> np.ndarray:
    """Labels as :class:`DataSplit` stores them, with every class present when ``rows`` allows."""
    classes = classes or CLASSES[task]
    if task == "multilabel":
        labels = (rng.random((rows, classes)) < 0.5).astype(np.int64)
        labels[np.arange(rows), np.arange(rows) % classes] = 1  # no row without a label
        return labels
    return rng.permutation(np.arange(rows) % classes).astype(np.int64)


def tiny_probabilities(labels: np.ndarray, task: TaskType, classes: int, rng: np.random.Generator,
                       *, perfect: bool) -> np.ndarray:  # fmt: skip
    """Random predicted probabilities, or ``perfect`` ones: confident (``1 - PERFECT_SLACK``) and right.

    Perfect predictions spread their slack by the same kind of noise, so metrics of the whole
    ranking (coverage) see a random order below the true classes rather than ties.
    """
    noise = rng.random((len(labels), classes))
    if not perfect:
        return noise if task == "multilabel" else noise / noise.sum(axis=1, keepdims=True)
    if task == "multilabel":
        return np.where(labels == 1, 1 - PERFECT_SLACK * noise, PERFECT_SLACK * noise)
    probabilities = PERFECT_SLACK * noise / noise.sum(axis=1, keepdims=True)
    probabilities[np.arange(len(labels)), labels] += 1 - PERFECT_SLACK
    return probabilities


def _inputs(kind: str, rows: int, rng: np.random.Generator, classes: int) -> Any:
    if kind == "tabular":
        return rng.normal(size=(rows, FEATURES)).astype(np.float32)
    if kind == "text":
        return np.array([" ".join(rng.choice(WORDS, size=int(rng.integers(3, 8)))) for _ in range(rows)], dtype=object)
    if kind == "image":
        return rng.normal(size=(rows, 3, IMAGE_SIDE, IMAGE_SIDE)).astype(np.float32)
    if kind == "item_sequence":  # left-padded item tokens 1..classes (0 pads), newest item last
        tokens = rng.integers(1, classes + 1, size=(rows, SEQUENCE_LENGTH)).astype(np.int64)
        tokens[: rows // 2, :2] = 0
        return {"items": tokens, "exclude_seen": np.zeros(rows, dtype=np.bool_)}
    raise ValueError(f"no tiny data for input kind {kind!r}; kinds: {', '.join(TINY_KINDS)}")


def tiny_splits(kind: str, task: TaskType = "binary", *, rows: int = 8, seed: int = 0) -> Splits:
    """Generated train, validation and test splits of ``rows`` rows each (ranking for ``item_sequence``)."""
    task = "ranking" if kind == "item_sequence" else task
    classes = CLASSES[task]
    rng = np.random.default_rng(seed)

    def split() -> DataSplit:
        return DataSplit(_inputs(kind, rows, rng, classes), tiny_labels(task, rows, rng))

    names = tuple(f"item_{index}" if task == "ranking" else f"class_{index}" for index in range(classes))
    return Splits(split(), split(), split(), task, names, kind, f"tiny-{kind}-{task}-{rows}-{seed}")


def tiny_batch_inputs(kind: str, rows: int = 8, *, seed: int = 0) -> Any:
    """A training batch's inputs as an augmentation sees them (text as token ids with a right-padded mask)."""
    rng = np.random.default_rng(seed)
    if kind != "text":
        return _inputs(kind, rows, rng, CLASSES["ranking"])
    lengths = rng.integers(4, 2 * SEQUENCE_LENGTH + 1, size=rows)
    positions = np.arange(2 * SEQUENCE_LENGTH)[None, :]
    mask = (positions < lengths[:, None]).astype(np.int64)
    ids = np.where(mask == 1, rng.integers(5, 50, size=mask.shape), 0).astype(np.int64)
    ids[:, 0] = 2  # a first special token, as tokenizers give
    return {"input_ids": ids, "attention_mask": mask}
