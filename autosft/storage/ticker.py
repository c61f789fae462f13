"""A daemon thread that repeats an action while a block runs: a trial's heartbeats, a lock's renewals."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

__all__ = ["ticking"]


@contextlib.contextmanager
def ticking(seconds: float, action: Callable[[], object], *, name: str, first_now: bool) -> Iterator[None]:
    """Call ``action`` every ``seconds`` (at once too, with ``first_now``) until the block ends.

    The thread is joined on the way out, so no tick outlives the block.
    """
    stop = threading.Event()

    def tick() -> None:
        if not first_now and stop.wait(seconds):
            return
        while True:
            action()
            if stop.wait(seconds):
                return

    thread = threading.Thread(target=tick, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
