"""The ``synthetic_fraud`` dataset: a deterministic, fraud-like table for quickstarts and tests.

Rows belong to segments (think countries or merchant groups). Segments shift the feature
distributions and perturb the fraud rule, so a model pre-trained on the other segments transfers
to the target segment, but not perfectly: the setting where fine-tuning choices matter. The label
is a noisy non-linear rule, learnable (a good model reaches a ROC-AUC around 0.85-0.95) but not
trivial, with a rare positive class. The table then goes through the same checks, split and
preprocessing as a user's file.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, model_validator

from autosft import ConfigError, DatasetLoader, SplitOptions, Splits, TaskType
from autosft_fraud_tabular.prepare import TableSpec, fingerprint, prepare_splits

__all__ = ["SyntheticFraudDataset", "SyntheticFraudOptions", "generate_fraud_table"]

TARGET = "is_fraud"
SEGMENT = "segment"
#: Scale of the logistic noise added to the fraud score; it is what keeps the task from being trivial.
LABEL_NOISE = 0.6


class SyntheticFraudOptions(SplitOptions):
    """Options of the ``synthetic_fraud`` dataset."""

    n_rows: int = Field(default=6000, ge=200, le=5_000_000, description="Rows over all segments.")
    positive_rate: float = Field(default=0.03, gt=0, le=0.5, description="Share of fraud rows in each segment.")
    n_segments: int = Field(default=4, ge=1, le=100, description="Segments; all but the target one pre-train.")
    target_segment: str = Field(default="seg_0", description="Segment to fine-tune on (seg_0 … seg_<n-1>).")
    n_numeric: int = Field(default=8, ge=1, le=200, description="Numeric features (the first is a skewed amount).")
    n_categorical: int = Field(default=3, ge=0, le=50, description="Categorical features.")
    segment_shift: float = Field(default=1.0, ge=0, le=10, description="How much segments differ; 0: identical.")
    data_seed: int = Field(default=0, ge=0, description="Seed of the generated table (the split uses split_seed).")

    @model_validator(mode="after")
    def _known_segment(self) -> SyntheticFraudOptions:
        names = [f"seg_{index}" for index in range(self.n_segments)]
        if self.target_segment not in names:
            shown = ", ".join(names[:10]) + (", …" if len(names) > 10 else "")
            raise ValueError(f"target_segment {self.target_segment!r} is not one of {shown}")
        return self


def generate_fraud_table(options: SyntheticFraudOptions) -> pd.DataFrame:
    """Generate the table; the same options always give the same frame.

    Columns: ``amount`` (log-normal), ``num_1`` … (Gaussian), ``cat_0`` … (string levels),
    ``segment`` and ``is_fraud`` (0/1). About 2% of ``num_1`` and ``cat_0`` are missing, so
    imputation is exercised as in real data.
    """
    rng = np.random.default_rng(options.data_seed)
    rows, n_seg, shift = options.n_rows, options.n_segments, options.segment_shift
    segment = np.sort(rng.integers(0, n_seg, size=rows))

    # Segment-specific location and scale of the numeric features (covariate shift).
    means = rng.normal(0.0, 0.5 * shift, size=(n_seg, options.n_numeric))
    scales = np.exp(rng.normal(0.0, 0.15 * shift, size=(n_seg, options.n_numeric)))
    z = rng.normal(size=(rows, options.n_numeric))
    x = means[segment] + scales[segment] * z

    # The fraud rule: shared weights (half the features weakly informative) plus a segment deviation.
    weights = rng.normal(0.0, 1.0, size=options.n_numeric)
    weights[options.n_numeric // 2 + 1 :] *= 0.2
    segment_weights = weights + rng.normal(0.0, 0.3 * shift, size=(n_seg, options.n_numeric))
    score = np.einsum("ij,ij->i", x, segment_weights[segment])
    if options.n_numeric >= 2:
        score += 0.8 * x[:, 0] * x[:, 1]  # an interaction a linear model cannot see
    score += 1.5 * (x[:, -1] > 1.2)  # a threshold effect

    columns: dict[str, np.ndarray] = {"amount": np.round(np.exp(3.5 + 0.8 * x[:, 0]), 2)}
    for index in range(1, options.n_numeric):
        columns[f"num_{index}"] = x[:, index]
    for index in range(options.n_categorical):
        levels = 3 + 2 * index
        base = rng.dirichlet(np.full(levels, 2.0))
        level = np.empty(rows, dtype=np.int64)
        for seg in range(n_seg):
            mixed = (1 - min(shift, 1.0) * 0.5) * base + min(shift, 1.0) * 0.5 * rng.dirichlet(np.full(levels, 2.0))
            members = segment == seg
            level[members] = rng.choice(levels, size=int(members.sum()), p=mixed)
        risk = rng.normal(0.0, 0.8, size=levels)
        score += risk[level]
        columns[f"cat_{index}"] = np.array([f"c{index}_{value}" for value in range(levels)], dtype=object)[level]

    labels = np.zeros(rows, dtype=np.int64)
    noisy = score + rng.logistic(0.0, LABEL_NOISE * max(score.std(), 1e-6) / 2.0, size=rows)
    for seg in range(n_seg):
        members = np.flatnonzero(segment == seg)
        # The top-k of a noisy score gives each segment exactly the requested rate (at least one row).
        positives = max(1, round(options.positive_rate * len(members)))
        labels[members[np.argsort(-noisy[members], kind="stable")[:positives]]] = 1

    frame = pd.DataFrame(columns)
    for name in ("num_1", "cat_0"):
        if name in frame:
            frame.loc[rng.random(rows) < 0.02, name] = np.nan
    frame[SEGMENT] = np.array([f"seg_{value}" for value in range(n_seg)], dtype=object)[segment]
    frame[TARGET] = labels
    return frame


class SyntheticFraudDataset(DatasetLoader):
    """Generated fraud-like data: fine-tune on one segment, pre-train on the others."""

    name: ClassVar[str] = "synthetic_fraud"
    description: ClassVar[str] = "deterministic fraud-like table with segments; fine-tunes on target_segment"
    Options: ClassVar[type[BaseModel]] = SyntheticFraudOptions

    def load(self, options: BaseModel, *, task: TaskType, seed: int) -> Splits:
        assert isinstance(options, SyntheticFraudOptions)
        if task != "binary":
            raise ConfigError(f"dataset synthetic_fraud has binary labels, but the task is {task!r}")
        split_seed = seed if options.split_seed is None else options.split_seed
        frame = generate_fraud_table(options)
        content = hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()).hexdigest()
        key = fingerprint(content, options.model_dump_json(exclude={"split_seed"}), task, str(split_seed))
        numeric = [column for column in frame.columns if column == "amount" or column.startswith("num_")]
        spec = TableSpec(
            source="synthetic_fraud",
            target=TARGET,
            categorical=tuple(column for column in frame.columns if column.startswith("cat_")),
            numeric=tuple(numeric),
            segment_column=SEGMENT,
            target_segment=options.target_segment,
            val_fraction=options.val_fraction,
            test_fraction=options.test_fraction,
        )
        return prepare_splits(frame, spec, task=task, seed=split_seed, data_fingerprint=key)
