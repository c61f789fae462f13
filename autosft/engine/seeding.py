"""Seeding helpers for model builders and pre-training: reproducible weights without disturbing
the caller's random streams."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch

__all__ = ["seed_everything", "seeded", "single_thread"]


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """torch's CPU generator seeded with ``seed`` inside, the caller's state back after.

    For builders and pre-training: weights and dropout drawn from the trial's seed, while the
    caller's own random sequence (the search's, the next trial's) goes on as if nothing happened.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """torch on one CPU thread inside, the caller's thread count back after.

    For pre-training small models: their matrices are too small to gain from more threads, and when
    another process shares the cores, synchronising OpenMP threads on every tiny op made pre-training
    10-25x slower.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return the generator that orders batches."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
