"""``model.onnx`` beside the native export: the exported model as an ONNX graph, checked against torch.

Any model builder's module exports, whatever its inputs: a tensor (tabular rows, next-item
histories, images) or a mapping of tensors (token ids and attention mask). The graph takes the
inputs by name in the mapping's order (``input`` for a plain tensor), returns the logits, and keeps
the batch axis dynamic, and the sequence axis of per-token inputs. A LoRA model is merged into
plain weights first, so the graph needs no peft. A calibrated export folds its temperature into the
graph: the ``logits`` output is already divided by it, so the softmax a serving stack applies gives
the calibrated probabilities, as the native model loaded with ``load_exported`` does. The check
runs onnxruntime and torch on the first test rows and refuses a graph whose outputs differ by more
than :data:`RELATIVE_TOLERANCE`.

We use torch's TorchScript-based exporter (``dynamo=False``): it ships with torch and works
offline, while torch's default dynamo exporter needs the separate ``onnxscript`` package.
"""

from __future__ import annotations

import copy
import re
import statistics
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from autosft.components import DataSplit
from autosft.engine.data import to_device_split
from autosft.engine.staging import model_logits
from autosft.errors import AutosftError

__all__ = [
    "CHECK_ROWS",
    "ONNX_FILE",
    "OPSET",
    "RELATIVE_TOLERANCE",
    "OnnxExportError",
    "export_onnx",
    "onnx_logits",
    "onnx_session",
]

ONNX_FILE = "model.onnx"
#: Opset 18 is the newest the TorchScript exporter writes and well inside what onnxruntime >= 1.16 runs.
OPSET = 18
#: Test rows the torch / onnxruntime comparison and the latency measurement run on.
CHECK_ROWS = 64
#: The largest difference allowed, relative to the largest torch output (at least 1).
RELATIVE_TOLERANCE = 1e-4
_LATENCY_RUNS = 5
_INPUT = "input"


class OnnxExportError(AutosftError):
    """The model holds an operator ONNX cannot express, or its graph disagrees with torch."""


class _Graph(nn.Module):
    """The model as a function of positional tensors returning logits (divided by the calibration's
    temperature): the shape ONNX export traces."""

    def __init__(self, module: nn.Module, names: Sequence[str] | None, temperature: float) -> None:
        super().__init__()
        self.module = module
        self.names = names
        self.temperature = temperature

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        inputs: Any = tensors[0] if self.names is None else dict(zip(self.names, tensors, strict=True))
        logits = model_logits(self.module, inputs)
        # a constant of the trace: an uncalibrated graph gets no Div node at all
        return logits if self.temperature == 1.0 else logits / self.temperature


def export_onnx(
    module: nn.Module, test: DataSplit, folder: Path, *, rows: int = CHECK_ROWS, temperature: float = 1.0
) -> dict[str, Any]:
    """Write ``folder / model.onnx`` and return its record: opset, axes, difference to torch, size, latency.

    The graph's ``logits`` are divided by ``temperature`` (the calibration's; 1 leaves them as trained).

    Raises :class:`OnnxExportError` naming the operator when the model cannot be exported, and when
    onnxruntime's outputs on the first ``rows`` test rows differ from torch's beyond the tolerance.
    """
    import onnxruntime

    split = to_device_split(test, torch.device("cpu"))
    checked = min(rows, len(test))
    # Traced on half the rows, checked on all of them: a batch (and width) the trace never saw
    # proves the axes dynamic.
    traced, inputs = split.rows(torch.arange(max(1, checked // 2))), split.rows(torch.arange(checked))
    per_token = isinstance(inputs, Mapping)
    named = _named(inputs)
    # eval on the wrapper: the exporter restores the wrapper's mode (and so its children's) when done
    graph = _Graph(_merged(module).cpu(), list(named) if per_token else None, temperature).eval()
    axes = {name: _dynamic_axes(tensor, per_token=per_token) for name, tensor in named.items()}
    path = folder / ONNX_FILE
    _trace(graph, tuple(_named(traced).values()), path, axes)
    session = onnx_session(path)
    with torch.no_grad():
        expected = graph(*named.values()).float().numpy()
    try:
        got = onnx_logits(session, inputs)
    except Exception as error:  # onnxruntime's errors share no base class we could name
        raise OnnxExportError(f"model.onnx fails on a batch it was not traced with ({_first_line(error)})") from error
    difference = float(np.max(np.abs(got - expected), initial=0.0))
    relative = difference / max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    if not relative <= RELATIVE_TOLERANCE:  # also refuses NaN
        raise OnnxExportError(
            f"model.onnx disagrees with torch on {len(got)} test rows: max abs difference {difference:.3g} "
            f"({relative:.3g} relative, allowed {RELATIVE_TOLERANCE:g})"
        )
    dtypes = {name: str(tensor.dtype).removeprefix("torch.") for name, tensor in named.items()}
    return {
        "file": ONNX_FILE,
        "opset": OPSET,
        "temperature": temperature,
        "outputs": "logits divided by the temperature: their softmax (sigmoid for multilabel) is the exported model's",
        "exporter": f"torch.onnx (TorchScript) {torch.__version__}",
        "onnxruntime": onnxruntime.__version__,
        "inputs": {name: {"dtype": dtypes[name], "dynamic_axes": axes[name]} for name in named},
        "check_rows": len(got),
        "max_abs_difference": difference,
        "max_relative_difference": relative,
        "size_bytes": path.stat().st_size,
        "cpu_latency_ms_per_row": _latency_ms_per_row(session, _feed(session, inputs), len(got)),
    }


def onnx_session(path: Path) -> Any:
    """An onnxruntime CPU session on an exported ``model.onnx``."""
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def onnx_logits(session: Any, inputs: Any) -> np.ndarray:
    """The graph's logits for one batch of inputs as the model takes them (a tensor or a mapping)."""
    return np.asarray(session.run(None, _feed(session, inputs))[0])


def _feed(session: Any, inputs: Any) -> dict[str, np.ndarray]:
    used = {node.name for node in session.get_inputs()}  # the exporter drops inputs the model ignores
    return {name: tensor.cpu().numpy() for name, tensor in _named(inputs).items() if name in used}


def _named(inputs: Any) -> dict[str, torch.Tensor]:
    """The graph's inputs by name: a mapping's own names, else ``input``."""
    return dict(inputs) if isinstance(inputs, Mapping) else {_INPUT: inputs}


def _merged(module: nn.Module) -> nn.Module:
    """LoRA merged into the weights (on a copy: the trained module stays as it was), else the module."""
    from peft import PeftModel

    return copy.deepcopy(module).merge_and_unload() if isinstance(module, PeftModel) else module


def _dynamic_axes(tensor: torch.Tensor, *, per_token: bool) -> dict[int, str]:
    """Batch is always dynamic; the second axis too for per-token inputs (token ids, masks)."""
    return {0: "batch", 1: "sequence"} if per_token and tensor.ndim == 2 else {0: "batch"}


def _trace(graph: _Graph, tensors: tuple[torch.Tensor, ...], path: Path, axes: dict[str, dict[int, str]]) -> None:
    """Run torch's exporter; an operator it cannot express becomes one line that names it."""
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about constants the dynamic axes already cover
            torch.onnx.export(graph, tensors, str(path), dynamo=False, opset_version=OPSET, input_names=list(axes),
                              output_names=["logits"], dynamic_axes={**axes, "logits": {0: "batch"}})  # fmt: skip
    except Exception as error:  # the exporter raises several unrelated types, all meaning "cannot export"
        message = _first_line(error)
        operator = re.search(r"(?:aten|prim|onnx)::\w+", message)
        reason = f"operator {operator.group()} has no ONNX form at opset {OPSET}" if operator else type(error).__name__
        raise OnnxExportError(f"the model cannot be exported to ONNX: {reason} ({message})") from error


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _latency_ms_per_row(session: Any, feed: dict[str, np.ndarray], rows: int) -> float:
    """Median wall time of a batch of ``rows`` test rows on onnxruntime's CPU provider, per row."""
    session.run(None, feed)  # warm-up: the first run allocates
    times = []
    for _ in range(_LATENCY_RUNS):
        tick = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - tick)
    return round(1000 * statistics.median(times) / max(1, rows), 6)
