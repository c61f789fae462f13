"""What every command shares: the consoles, one-line errors, the running plugin manager, signals.

Its own module so that the built-in commands (:mod:`autosft.commands`), plugins' commands and the
app that gathers them (:mod:`autosft.cli`) all import it, and none imports the others.
"""

from __future__ import annotations

import _thread
import contextlib
import functools
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pluggy
import typer
from rich.console import Console
from rich.markup import escape

from autosft.errors import AutosftError

__all__ = [
    "console", "errors", "interrupt", "plugin_manager", "report_error", "reporting_errors", "sigterm_as_interrupt",
]  # fmt: skip

F = TypeVar("F", bound=Callable[..., Any])

#: Standard output: plain text (tables included), so a bracket in a path, a study name or a
#: parameter is never read as Rich markup; a line that wants markup asks for it.
console = Console(soft_wrap=True, markup=False)
#: Standard error: one-line errors and progress, with markup; callers escape what they interpolate.
errors = Console(stderr=True, soft_wrap=True)


def reporting_errors(command: F) -> F:
    """Print an :class:`AutosftError` as one line and exit with its code; Ctrl-C exits 130.

    The wrapped command takes ``context: typer.Context`` first, which carries ``--debug``.
    """

    @functools.wraps(command)
    def wrapper(context: typer.Context, *args: Any, **kwargs: Any) -> Any:
        from autosft.storage import mask_url

        try:
            return command(context, *args, **kwargs)
        except AutosftError as error:
            if _settings(context).get("debug"):
                raise
            report_error(mask_url(str(error)))
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            errors.print(
                "interrupted: the running trial is marked FAIL and every finished trial is kept; "
                "run the same command again to resume",
                highlight=False,
            )
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def report_error(message: str) -> None:
    """Print one ``error:`` line on stderr; brackets in ``message`` (a file ``run[red]2.csv``, an extra
    ``autosft[postgres]``) are text, never Rich markup."""
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _settings(context: typer.Context) -> dict[str, Any]:
    return context.find_root().obj or {}


def plugin_manager(context: typer.Context) -> pluggy.PluginManager:
    """The plugin manager the running app was built from."""
    return _settings(context)["manager"]


def interrupt(signum: int, frame: object) -> None:
    """A signal handler that stops like Ctrl-C."""
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within it, SIGTERM (a scheduler's preemption, `kill`) stops like Ctrl-C: the running trial is
    failed and queued again with its parameters, and the command exits 130."""
    previous = signal.signal(signal.SIGTERM, interrupt)
    previous_hook, sys.unraisablehook = sys.unraisablehook, _redeliver_interrupt
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        sys.unraisablehook = previous_hook


def _redeliver_interrupt(unraisable: Any) -> None:
    """Raise again, in the main thread, a Ctrl-C that Python could not raise where it landed.

    A signal's ``KeyboardInterrupt`` raised inside a finalizer (SQLAlchemy's weak-reference
    callbacks run during any query) is printed as "Exception ignored" and dropped: the search
    would go on as if never interrupted. Python then runs the handler again, outside the finalizer.
    """
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        # From another thread, a moment later: raised at once, it would land in this hook and be dropped again.
        later = threading.Timer(0.05, _thread.interrupt_main, args=(signal.SIGINT,))
        later.daemon = True
        later.start()
        return
    sys.__unraisablehook__(unraisable)
