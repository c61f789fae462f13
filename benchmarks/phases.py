"""Where a run's wall time goes: a sampling profiler that files every moment under one phase.

A daemon thread looks at the main thread's stack about every 10 ms and files the time since its
last look under the first phase (in :data:`PHASES` order) that has a function on the stack, or
under ``other``. Sampling from inside the process costs the run under 1 % and needs no tracing
hooks, so torch's C++ kernels run at full speed; both tools of a benchmark are profiled alike.

The rules name functions as ``module`` (any function of it or of its submodules), ``module:qualname``
or ``:qualname`` (that function in any module, e.g. a benchmark script's own helper).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import defaultdict
from types import FrameType, TracebackType

__all__ = ["OTHER", "PHASES", "PhaseProfile"]

#: Phases in priority order: a moment with both a storage call and a sampler on the stack is storage.
PHASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("storage", ("optuna.storages", "autosft.storage", "sqlalchemy")),
    ("validation", (
        "autosft.engine.loop:predict", "autosft.engine.scoring", "transformers.trainer:Trainer.evaluate")),
    ("data (read, tokenize, batch)", (
        "autosft.search.prepare:load_splits", "autosft.engine.loop:_training_data", "autosft.engine.data",
        "autosft.engine.cache", ":_peer_rows", "torch.utils.data", "transformers.data",
        "transformers.tokenization_utils_base")),
    ("train (forward, backward, step)", (
        "autosft.engine.loop:_train_epoch", "transformers.trainer:Trainer.training_step", "torch.optim")),
    ("model load and build", (
        "autosft.search.prepare:PreparedStudy.build_model", ":_peer.<locals>.model_init",
        "transformers.modeling_utils")),
    ("sampler", ("optuna.samplers", "autosft.space")),
    ("pruner", ("optuna.pruners",)),
)  # fmt: skip
OTHER = "other (loop glue, logging, gc)"


def _matches(rule: str, module: str, qualname: str) -> bool:
    rule_module, _, rule_name = rule.partition(":")
    if rule_module and module != rule_module and not module.startswith(rule_module + "."):
        return False
    return not rule_name or qualname == rule_name


def classify(frame: FrameType | None) -> str:
    """The first phase with a function on ``frame``'s stack, else :data:`OTHER`."""
    stack: list[tuple[str, str]] = []
    while frame is not None:
        stack.append((frame.f_globals.get("__name__", ""), frame.f_code.co_qualname))
        frame = frame.f_back
    for phase, rules in PHASES:
        if any(_matches(rule, module, name) for rule in rules for module, name in stack):
            return phase
    return OTHER


class PhaseProfile:
    """``with PhaseProfile() as profile:`` samples the thread that made it; ``profile.seconds`` per phase."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.seconds: dict[str, float] = defaultdict(float)
        self._target = threading.get_ident()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="phase-profile", daemon=True)

    def __enter__(self) -> PhaseProfile:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.interval):
            phase = classify(sys._current_frames().get(self._target))
            now = time.monotonic()
            self.seconds[phase] += now - last
            last = now
