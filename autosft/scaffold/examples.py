"""The tiny example data a new plugin ships, one writer per kind, so its study runs offline.

Each writer gets a seeded generator and writes the rows of one population; the target and the
pre-training source differ by ``shift``, as a related population would.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

__all__ = ["EXAMPLE_ROWS", "ExampleWriter", "write_image", "write_ranking", "write_tabular", "write_text"]

#: Rows of the target and of the pre-training source: enough for a split, small enough to be instant.
EXAMPLE_ROWS = {"target": 240, "pretrain": 480}

#: ``writer(path, rows, shift, rng)`` writes ``rows`` rows of one population to ``path``.
ExampleWriter = Callable[[Path, int, float, np.random.Generator], None]


def _write_csv(path: Path, header: list[str], records: Sequence[Sequence[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(records)


def write_tabular(path: Path, rows: int, shift: float, rng: np.random.Generator) -> None:
    """Four sensor-like features; ``yes`` rows (30 %) sit one and a half deviations away."""
    positive = rng.random(rows) < 0.3
    features = rng.normal(shift, 1.0, size=(rows, 4)) + 1.5 * positive[:, None] * np.array([1.0, -0.5, 0.8, 0.0])
    records = [[*np.round(row, 4), "yes" if label else "no"] for row, label in zip(features, positive, strict=True)]
    _write_csv(path, ["f0", "f1", "f2", "f3", "label"], records)


_NEUTRAL = (
    "the", "order", "came", "on", "monday", "with", "a", "note", "about", "the", "box", "and", "the",
    "size", "of", "the", "parcel", "from", "our", "team", "at", "the", "store", "near", "town", "after",
    "we", "asked", "for", "it", "twice", "by", "mail"
)  # fmt: skip
_CUES = {
    "positive": ("great", "quick", "friendly", "perfect", "helpful", "love"),
    "negative": ("broken", "late", "rude", "refund", "missing", "never"),
}


def write_text(path: Path, rows: int, shift: float, rng: np.random.Generator) -> None:
    """Short reviews: neutral words with a few cue words of their label (and, at ``shift``, of the other)."""
    records = []
    for _ in range(rows):
        label = "positive" if rng.random() < 0.5 else "negative"
        other = "negative" if label == "positive" else "positive"
        words = [*rng.choice(_NEUTRAL, int(rng.integers(6, 12))), *rng.choice(_CUES[label], int(rng.integers(1, 3)))]
        if rng.random() < 0.15 + shift:
            words.append(str(rng.choice(_CUES[other])))
        records.append([" ".join(str(word) for word in rng.permutation(words)), label])
    _write_csv(path, ["text", "label"], records)


_PATTERNS = ("horizontal", "vertical", "diagonal")


def write_image(path: Path, rows: int, shift: float, rng: np.random.Generator) -> None:
    """12x12 grey images of a line (horizontal, vertical or diagonal) at a random place, in noise."""
    labels = rng.integers(0, len(_PATTERNS), rows)
    images = rng.normal(0.3 + shift, 0.15, size=(rows, 1, 12, 12))
    for row, label in enumerate(labels):
        at = int(rng.integers(2, 10))
        if label == 0:
            images[row, 0, at, :] += 0.6
        elif label == 1:
            images[row, 0, :, at] += 0.6
        else:
            images[row, 0, np.arange(12), (np.arange(12) + at) % 12] += 0.6
    pixels = (np.clip(images, 0, 1) * 255).astype(np.uint8)
    np.savez_compressed(path, images=pixels, labels=np.array([_PATTERNS[label] for label in labels]))


def write_ranking(path: Path, rows: int, shift: float, rng: np.random.Generator) -> None:
    """Purchase histories over 24 items in three groups: a customer mostly buys within one group,
    and the next item is from that group too (from any item with probability ``shift``)."""
    items = [f"item{index:02d}" for index in range(24)]
    records = []
    for _ in range(rows):
        group = int(rng.integers(0, 3))
        history = [items[group * 8 + int(rng.integers(0, 8))] for _ in range(int(rng.integers(4, 10)))]
        nearby = rng.random() >= shift
        next_item = items[group * 8 + int(rng.integers(0, 8))] if nearby else str(rng.choice(items))
        records.append([" ".join(history), next_item])
    _write_csv(path, ["history", "next_item"], records)
