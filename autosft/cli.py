"""The ``autosft`` command line, built from a plugin manager so plugins can add commands.

Heavy modules (torch, optuna, the engine) are imported inside the commands: ``autosft --help``
only loads Typer and the plugin hooks.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

import pluggy
import typer
from rich.console import Console

from autosft.errors import AutosftError

__all__ = ["build_app", "console", "errors", "main", "plugin_manager", "reporting_errors", "sigterm_as_interrupt"]

F = TypeVar("F", bound=Callable[..., Any])

console = Console(soft_wrap=True)
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
            errors.print(f"[bold red]error:[/] {mask_url(str(error))}", highlight=False, soft_wrap=True)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            errors.print(
                "interrupted: the running trial is marked FAIL and every finished trial is kept; "
                "run the same command again to resume",
                highlight=False,
            )
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _settings(context: typer.Context) -> dict[str, Any]:
    return context.find_root().obj or {}


def plugin_manager(context: typer.Context) -> pluggy.PluginManager:
    """The plugin manager the running app was built from."""
    return _settings(context)["manager"]


def build_app(manager: pluggy.PluginManager) -> typer.Typer:
    """The Typer app: built-in commands plus those plugins add through ``autosft_register_commands``."""
    app = typer.Typer(
        name="autosft",
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
    """Console-script entry point."""
    from autosft.plugins import get_plugin_manager

    try:
        manager = get_plugin_manager()
    except AutosftError as error:
        errors.print(f"[bold red]error:[/] {error}", highlight=False)
        sys.exit(error.exit_code)
    build_app(manager)()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within it, SIGTERM (a scheduler's preemption, `kill`) stops like Ctrl-C: the running trial is
    failed and queued again with its parameters, and the command exits 130."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
