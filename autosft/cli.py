"""The ``autosft`` command line, built from a plugin manager so plugins can add commands.

Heavy modules (torch, optuna, the engine) are imported inside the commands: ``autosft --help``
only loads Typer and the plugin hooks.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Sequence
from typing import Annotated, Any, NoReturn

import pluggy
import typer
from typer.core import TyperGroup

from autosft.cli_support import (
    console,
    errors,
    interrupt,
    plugin_manager,
    report_error,
    reporting_errors,
    sigterm_as_interrupt,
)
from autosft.errors import AutosftError

#: The helpers from :mod:`autosft.cli_support` stay importable from here, where plugins found them.
__all__ = ["build_app", "console", "errors", "main", "plugin_manager", "reporting_errors", "sigterm_as_interrupt"]


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


def build_app(manager: pluggy.PluginManager) -> typer.Typer:
    """The Typer app: built-in commands plus those plugins add through ``autosft_register_commands``."""
    app = typer.Typer(
        name="autosft",
        cls=_OneLineUsageErrors,
        help="Search how to fine-tune a pre-trained model on your labelled data.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        # Help texts are plain text: "[default: one per device]" must show, not be read as markup.
        rich_markup_mode=None,
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
    signal.signal(signal.SIGTERM, interrupt)
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
