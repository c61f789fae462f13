"""Surviving CUDA out-of-memory: run again with half the micro-batch and twice the accumulation.

Whether a configuration fits a GPU depends on the batch size the search sampled, the sequence
lengths, the adaptation mode and what else shares the device, so an out-of-memory error is a fact
about the device, not a verdict on the configuration. The run starts again from a freshly built
model with each batch split into twice as many micro-batches (the same effective batch, the same
optimizer steps), down to micro-batches of one row; only then does the trial fail, with the reason.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import TypeVar

import torch

from autosft.errors import TrialFailure

__all__ = ["retry_out_of_memory"]

Result = TypeVar("Result")


def retry_out_of_memory(run: Callable[[int], Result], *, batch_size: int, notes: list[str]) -> Result:
    """``run(accumulation)`` from 1, doubling ``accumulation`` after each CUDA out-of-memory error.

    ``run`` must start from scratch on each call (a fresh model). Each retry appends a line to
    ``notes``; when micro-batches of one row still do not fit, :class:`TrialFailure` says so.
    """
    accumulation = 1
    while True:
        try:
            return run(accumulation)
        except torch.cuda.OutOfMemoryError as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else "CUDA out of memory"
        # Outside the except block: the traceback, which holds the failed run's tensors, is gone.
        micro = -(-batch_size // accumulation)
        if micro <= 1:
            raise TrialFailure(
                f"out of GPU memory even at micro-batch 1 of batch {batch_size} ({reason}); "
                "use a smaller model or max_length, or a GPU with more memory"
            )
        accumulation *= 2
        notes.append(
            f"out of GPU memory at micro-batch {micro} ({reason}); retried with micro-batch "
            f"{-(-batch_size // accumulation)} x {accumulation} accumulation steps"
        )
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
