"""`new-plugin`: write a new plugin package to start from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autosft.cli_support import console

__all__ = ["new_plugin"]


def new_plugin(
    context: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            help="The plugin's name, e.g. acme-sensors: its folder, and the distribution "
            "autosft-<name> with the package autosft_<name>."
        ),
    ],
    kind: Annotated[str, typer.Option("--kind", help="What it reads: tabular, text, image or ranking.")] = "tabular",
    out: Annotated[Path, typer.Option("--out", help="The folder to write the plugin's folder into.")] = Path("."),
) -> None:
    """Write a complete, installable plugin package: a dataset loader with example data, a pre-trained
    model builder, a metric, tests, a README and a study file that runs as generated."""
    from autosft.scaffold import plugin_names, write_plugin

    folder = write_plugin(name, kind, out)
    names = plugin_names(name)
    console.print(f"wrote {folder}: the plugin {names.plugin!r} ({kind}) in the package {names.package}. Next:")
    for step in (f"pip install -e {folder}", f"pytest {folder}", f"autosft plugins --check {name}",
                 f"autosft validate {folder}/studies/example.yaml",
                 f"autosft search {folder}/studies/example.yaml"):  # fmt: skip
        console.print(f"  {step}")
