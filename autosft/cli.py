"""The ``autosft`` command line, built from a plugin manager so plugins can add commands.

Heavy modules (torch, optuna, the engine) are imported inside the commands: ``autosft --help``
only loads Typer and the plugin hooks.
"""

from __future__ import annotations

import _thread
import contextlib
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, Any, NoReturn, TypeVar

import pluggy
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from autosft.errors import AutosftError

__all__ = ["build_app", "console", "errors", "main", "plugin_manager", "reporting_errors", "sigterm_as_interrupt"]

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


class _OneLineUsageErrors(TyperGroup):
    """Typer's group, with its usage errors (unknown command or option, a missing argument, a value
    of the wrong type) as one line and a hint instead of a boxed panel."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, windows_expand_args: bool = True,
             **extra: Any) -> Any:  # fmt: skip
        run = functools.partial(super().main, args, prog_name, complete_var, standalone_mode=False,
                                windows_expand_args=windows_expand_args, **extra)  # fmt: skip
        if not standalone_mode:
            return run()
        try:
            code = run()
        except typer.TyperException as error:  # Typer's own click: usage errors and the like
            context = getattr(error, "ctx", None)
            if type(error).__name__ == "NoArgsIsHelpError" and context is not None:  # `autosft` alone
                print(context.get_help())
            else:
                path = context.command_path if context is not None else "autosft"
                report_error(f"{error.format_message()} (see `{path} --help`)")
            sys.exit(getattr(error, "exit_code", 2))
        except typer.Abort:
            errors.print("interrupted", highlight=False)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


def _settings(context: typer.Context) -> dict[str, Any]:
    return context.find_root().obj or {}


def plugin_manager(context: typer.Context) -> pluggy.PluginManager:
    """The plugin manager the running app was built from."""
    return _settings(context)["manager"]


def build_app(manager: pluggy.PluginManager) -> typer.Typer:
    """The Typer app: built-in commands plus those plugins add through ``autosft_register_commands``."""
    app = typer.Typer(
        name="autosft",
        cls=_OneLineUsageErrors,
        help="Search how to fine-tune a pre-trained model on your labelled data.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @app.callback()
    def root(
        context: typer.Context,
        debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    ) -> None:
        context.obj = {"debug": debug, "manager": manager}

    from autosft import commands

    for name, command in commands.COMMANDS.items():
        app.command(name)(reporting_errors(command))
    manager.hook.autosft_register_commands(app=app)
    return app


def main() -> None:
    """Console-script entry point.

    SIGTERM is taken first thing: a scheduler that stops a worker while it still loads its plugins
    gets the same one-line exit 130 as later, not a bare kill.
    """
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        from autosft.plugins import get_plugin_manager

        app = build_app(get_plugin_manager())
    except AutosftError as error:
        report_error(str(error))
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        errors.print("interrupted while starting", highlight=False)
        _leave_interrupted()
    try:
        app()
    except SystemExit as done:
        if done.code != 130:
            raise
        _leave_interrupted()


def _leave_interrupted() -> NoReturn:
    """Exit 130 at once: the running trial is already told and queued again. Python's teardown
    (torch, pools, threads) takes seconds on a loaded machine, and a Ctrl-C landing in it would
    turn exit 130 into a kill by SIGINT."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within it, SIGTERM (a scheduler's preemption, `kill`) stops like Ctrl-C: the running trial is
    failed and queued again with its parameters, and the command exits 130."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
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
