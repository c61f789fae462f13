"""Which device a trial trains on, and the mixed precision that device supports."""

from __future__ import annotations

import contextlib
import gc
from dataclasses import dataclass
from typing import Any

import torch

from autosft.errors import ConfigError

__all__ = ["DeviceSetup", "pick_device", "release_device_memory"]


@dataclass(frozen=True)
class DeviceSetup:
    """A device and its autocast dtype (``None`` means full precision)."""

    device: torch.device
    autocast_dtype: torch.dtype | None

    @property
    def needs_grad_scaler(self) -> bool:
        # fp16 gradients underflow without loss scaling; bf16 has fp32's range and needs none.
        return self.autocast_dtype == torch.float16

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)


def pick_device(requested: str | None = None) -> DeviceSetup:
    """The requested device, or the first GPU when one is visible, else the CPU.

    CPU trials run in fp32: autocast to bf16 on CPU is slower than fp32 on most machines. A device
    that does not exist here is a :class:`ConfigError` before any trial starts.
    """
    if requested is None:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(requested)
        except RuntimeError:
            raise ConfigError(f"device {requested!r} is not a device name; use cpu, cuda or cuda:N") from None
        if device.type not in {"cpu", "cuda"}:
            raise ConfigError(f"device {requested!r}: autosft trains on cpu or cuda devices")
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device {requested!r}: no CUDA device is visible on this machine")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device {requested!r}: only {torch.cuda.device_count()} CUDA device(s) are visible")
    if device.type != "cuda":
        return DeviceSetup(device, None)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return DeviceSetup(device, dtype)


def release_device_memory(setup: DeviceSetup) -> None:
    """Return a finished trial's GPU memory to the driver, for a worker that is not recycled.

    The trial's tensors are garbage once it ends, but reference cycles (optimizer state, autograd
    graphs held by a traceback) keep them until a collection, and PyTorch's caching allocator keeps
    freed blocks for itself; both would shrink what the next trial can use.
    """
    if setup.device.type == "cuda":
        gc.collect()
        torch.cuda.empty_cache()
