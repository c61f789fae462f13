"""Out of GPU memory: micro-batches with gradient accumulation train the same model, and a trial
that runs out of memory is retried with half the micro-batch until it fits or reaches one row."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from pydantic import BaseModel
from torch import nn

from autosft.components import BuiltModel, ModelBuilder, Splits
from autosft.engine.loop import train
from autosft.engine.trial import train_plan, training_job
from autosft.errors import TrialFailure
from autosft.search.prepare import PreparedStudy
from tests.engine.test_loop import BASE_PLAN, CPU

#: The engine tests' plan, with warmup, decay and smoothing on: accumulation must not change them.
PLAN = dataclasses.replace(BASE_PLAN, warmup_ratio=0.1, weight_decay=0.01, label_smoothing=0.1)


class _DeviceWithRowLimit(nn.Module):
    """The toy model on a device that holds the activations of at most ``limit`` rows at once:
    a larger forward pass raises the error PyTorch's CUDA allocator raises."""

    def __init__(self, inner: nn.Module, limit: int) -> None:
        super().__init__()
        self.inner = inner
        self.limit = limit
        self.attempted: list[int] = []

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.attempted.append(len(inputs))
        if self.training and len(inputs) > self.limit:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {len(inputs)} rows")
        return self.inner(inputs)


def test_micro_batches_with_accumulation_train_the_same_model(prepared: PreparedStudy) -> None:
    whole = train(training_job(prepared, PLAN, CPU))
    split = train(dataclasses.replace(training_job(prepared, PLAN, CPU), accumulation=4))
    for one, other in zip(whole.result.history, split.result.history, strict=True):
        assert one == pytest.approx(other, rel=1e-4, abs=1e-5)
    for name, tensor in whole.module.state_dict().items():
        torch.testing.assert_close(tensor, split.module.state_dict()[name], rtol=1e-4, atol=1e-5)


class _RowLimitedBuilder(ModelBuilder):
    """The study's model builder with every model it builds on a device of ``limit`` rows."""

    name = "row_limited"

    def __init__(self, inner: ModelBuilder, limit: int) -> None:
        self.inner = inner
        self.limit = limit

    def build(self, options: BaseModel, splits: Splits, *, seed: int) -> BuiltModel:
        built = self.inner.build(options, splits, seed=seed)
        return BuiltModel(
            module=_DeviceWithRowLimit(built.module, self.limit),
            layer_groups=[[f"inner.{name}" for name in group] for group in built.layer_groups],
            head=[f"inner.{name}" for name in built.head],
        )


def _limited(prepared: PreparedStudy, limit: int) -> PreparedStudy:
    return dataclasses.replace(prepared, builder=_RowLimitedBuilder(prepared.builder, limit))


def test_out_of_memory_retries_with_half_the_micro_batch(prepared: PreparedStudy) -> None:
    trained = train_plan(_limited(prepared, limit=10), PLAN, CPU)
    assert trained.result.notes[:2] == [
        "out of GPU memory at micro-batch 32 (CUDA out of memory. Tried to allocate 32 rows); "
        "retried with micro-batch 16 x 2 accumulation steps",
        "out of GPU memory at micro-batch 16 (CUDA out of memory. Tried to allocate 16 rows); "
        "retried with micro-batch 8 x 4 accumulation steps",
    ]
    assert max(trained.module.attempted) == 8  # the run that finished never went past the limit
    reference = train_plan(prepared, PLAN, CPU)  # same effective batch, so the same learning
    assert trained.result.metrics == pytest.approx(reference.result.metrics, rel=1e-4, abs=1e-5)


def test_a_model_that_never_fits_fails_the_trial_with_the_reason(prepared: PreparedStudy) -> None:
    with pytest.raises(TrialFailure, match="out of GPU memory even at micro-batch 1 of batch 32"):
        train_plan(_limited(prepared, limit=0), PLAN, CPU)
