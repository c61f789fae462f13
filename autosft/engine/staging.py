"""Running a model one span of layer groups at a time, through forward hooks, for frozen-prefix caching.

Works for any model whose layer groups run one after another in one forward pass (Hugging Face
encoders: embeddings, layers, pooler and classifier; CNN stages): to stop after a group, a forward
hook on its last module raises with that module's output; to start at a group, every module of the
groups before it is swapped, for that call only, for one that returns the given state shaped as
the module's own output was (a tensor, or a tuple led by it), so nothing before the boundary runs.
A model the trick does not fit is caught by :func:`stages_agree`, and its trials then train
without the cache.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from autosft.components import StagedForward

__all__ = ["hooked_stages", "model_logits", "stages_agree"]

logger = logging.getLogger(__name__)

#: Staged and whole-model logits must agree this closely for a model's activations to be cached.
AGREEMENT_TOLERANCE = 1e-4


#: Module classes seen returning a tuple, and its length; a swapped-out module returns the same shape.
_TUPLE_LENGTHS: dict[type[nn.Module], int] = {}


class _Stop(Exception):
    """Raised by the boundary hook to end the forward pass with the boundary's output."""

    def __init__(self, output: Any) -> None:
        super().__init__("stop at the cached boundary")
        self.output = output


def _leading_tensor(output: Any) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Sequence) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise TypeError(f"a layer group ends in a module returning {type(output).__name__}, not a tensor")


def model_logits(module: nn.Module, inputs: Any) -> torch.Tensor:
    """``module(**inputs)`` for mapping inputs, else ``module(inputs)``; the ``logits`` of a model output."""
    outputs = module(**inputs) if isinstance(inputs, Mapping) else module(inputs)
    return getattr(outputs, "logits", outputs)


class _Runner:
    """The ``run`` of a :class:`StagedForward`."""

    def __init__(self, layer_groups: Sequence[Sequence[str]]) -> None:
        self.groups = [list(group) for group in layer_groups]

    def __call__(
        self, module: nn.Module, inputs: Any, state: torch.Tensor | None, start: int, stop: int
    ) -> torch.Tensor:
        if not 0 <= start < stop <= len(self.groups):
            raise ValueError(f"`0 <= start < stop <= {len(self.groups)}` must hold, but got {start=}, {stop=}")
        if (state is None) != (start == 0):
            raise ValueError("state is the output of group start - 1: give it exactly when start > 0")
        skipped = [name for group in self.groups[:start] for name in group]
        with self._recording(module), self._skipping(module, skipped, state):
            if stop == len(self.groups):
                return model_logits(module, inputs)
            boundary = module.get_submodule(self.groups[stop - 1][-1])

            def stop_here(_: nn.Module, __: Any, output: Any) -> None:
                raise _Stop(output)

            handle = boundary.register_forward_hook(stop_here)
            try:
                model_logits(module, inputs)
            except _Stop as stopped:
                return _leading_tensor(stopped.output)
            finally:
                handle.remove()
        raise RuntimeError(f"the forward pass never reached {self.groups[stop - 1][-1]!r}")

    @contextmanager
    def _recording(self, module: nn.Module) -> Iterator[None]:
        handles = []
        for name in {name for group in self.groups[:-1] for name in group}:

            def record(submodule: nn.Module, _: Any, output: Any) -> None:
                if isinstance(output, tuple):
                    _TUPLE_LENGTHS[type(submodule)] = len(output)

            handles.append(module.get_submodule(name).register_forward_hook(record))
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    @contextmanager
    def _skipping(self, module: nn.Module, names: list[str], state: torch.Tensor | None) -> Iterator[None]:
        swapped: list[tuple[nn.Module, Any]] = []
        try:
            for name in names if state is not None else []:
                submodule = module.get_submodule(name)
                swapped.append((submodule, submodule.__dict__.get("forward")))
                length = _TUPLE_LENGTHS.get(type(submodule))
                output: Any = state if length is None else (state, *([None] * (length - 1)))
                submodule.forward = _constant(output)
            yield
        finally:
            for submodule, previous in swapped:
                del submodule.forward
                if previous is not None:
                    submodule.forward = previous


def _constant(output: Any) -> Any:
    def forward(*_: Any, **__: Any) -> Any:
        return output

    return forward


def hooked_stages(layer_groups: Sequence[Sequence[str]], *, key: str) -> StagedForward:
    """A :class:`StagedForward` for ``layer_groups`` that run one after another; ``key`` names the weights."""
    return StagedForward(key=key, run=_Runner(layer_groups))


@torch.no_grad()
def stages_agree(stages: StagedForward, module: nn.Module, inputs: Any, groups: int) -> bool:
    """Whether starting at every group boundary gives the whole model's logits (eval mode, no dropout)."""
    training = module.training
    module.eval()
    try:
        whole = model_logits(module, inputs).float()
        for depth in range(1, groups):
            state = stages.run(module, inputs, None, 0, depth)
            staged = stages.run(module, inputs, state, depth, groups).float()
            if staged.shape != whole.shape or not torch.allclose(staged, whole, atol=AGREEMENT_TOLERANCE, rtol=1e-3):
                logger.warning("activation cache off for %s: logits differ from group %d on", stages.key, depth)
                return False
    except (TypeError, RuntimeError, ValueError, AttributeError) as error:
        logger.warning("activation cache off for %s: the staged forward fails (%s)", stages.key, error)
        return False
    finally:
        module.train(training)
    return True
