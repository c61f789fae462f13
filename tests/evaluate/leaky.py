"""A toy dataset with planted train-test leakage, as a plugin, for the data-check tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from autosft.components import DatasetLoader, DataSplit, Splits, TaskType
from autosft.hookspecs import hookimpl
from autosft.testing import ToyBlobs, toy_manager


class LeakyBlobs(DatasetLoader):
    """``toy_blobs`` whose first ``leaked`` test rows are copies of train rows, and whose first
    ``val_leaked`` validation rows are copies of the train rows after those."""

    name = "leaky_blobs"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        leaked: int = Field(default=10, ge=0)
        val_leaked: int = Field(default=0, ge=0)

    def load(self, options: BaseModel, *, task: TaskType, seed: int) -> Splits:
        assert isinstance(options, LeakyBlobs.Options)
        splits = ToyBlobs().load(ToyBlobs.Options(rows=300), task=task, seed=seed)
        test = _copied(splits.test, splits.train, np.arange(options.leaked))
        val = _copied(splits.val, splits.train, options.leaked + np.arange(options.val_leaked))
        return replace(splits, val=val, test=test)


def _copied(split: DataSplit, source: DataSplit, rows: np.ndarray) -> DataSplit:
    """``split`` with its first rows replaced by the rows ``rows`` of ``source``, labels included."""
    inputs, labels = split.inputs.copy(), split.labels.copy()
    inputs[: len(rows)] = source.inputs[rows]
    labels[: len(rows)] = source.labels[rows]
    return DataSplit(inputs, labels)


class LeakyPlugin:
    @hookimpl
    def autosft_register_datasets(self, register: Callable[[DatasetLoader], None]) -> None:
        register(LeakyBlobs())


def leaky_manager():  # type: ignore[no-untyped-def]
    return toy_manager(LeakyPlugin())


def copy_rows(inputs: np.ndarray, rows: np.ndarray, noise: float, seed: int = 0) -> np.ndarray:
    """``inputs[rows]`` with relative Gaussian noise (0 for exact copies)."""
    picked = inputs[rows].astype(np.float64)
    jitter = np.random.default_rng(seed).normal(0, noise * (np.abs(picked).mean() + 1e-9), picked.shape)
    return (picked + jitter).astype(inputs.dtype)
