"""Writing a new plugin package: checks first, then every file into a temporary folder, renamed
into place at the end, so a bad input or a failure midway leaves nothing behind."""

from __future__ import annotations

import difflib
import shutil
import string
import tempfile
from pathlib import Path

import numpy as np

from autosft.errors import ConfigError
from autosft.scaffold.examples import EXAMPLE_ROWS
from autosft.scaffold.kinds import KINDS, Kind
from autosft.scaffold.names import PluginNames, plugin_names

__all__ = ["TEMPLATES", "render_files", "write_plugin"]

TEMPLATES = Path(__file__).parent / "templates"
SUFFIX = ".tmpl"
#: The template folder name that becomes the plugin's package, and the file-name part that
#: becomes its plugin name (``tests/test___plugin__.py`` -> ``tests/test_acme.py``).
PACKAGE_DIR, PLUGIN_PART = "__package__", "__plugin__"


def write_plugin(name: str, kind: str, out: Path) -> Path:
    """Write the plugin ``name`` of ``kind`` into ``out/name`` and return that folder.

    Raises :class:`ConfigError`, before writing anything, for a name that is not a valid package
    name, an unknown kind, an ``out`` that is not a folder, or a target that exists and is not empty.
    """
    names = plugin_names(name)
    chosen = _kind(kind)
    if not out.is_dir():
        raise ConfigError(f"--out {out}: no such folder (create it first, or pick another)")
    target = out / names.folder
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(f"{target} already exists and is not empty: pick another name or --out, or remove it")
    staging = Path(tempfile.mkdtemp(prefix=f".{names.folder}-", dir=out))
    try:
        for relative, text in render_files(names, chosen).items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        _write_examples(staging / names.package / "example", chosen)
        if target.exists():
            target.rmdir()  # empty, checked above
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def render_files(names: PluginNames, kind: Kind) -> dict[str, str]:
    """Every text file of the plugin, by path relative to its folder; a later layer's file of the same
    path replaces an earlier one's."""
    values = _values(names, kind)
    files: dict[str, str] = {}
    for layer in kind.layers:
        root = TEMPLATES / layer
        for template in sorted(root.rglob(f"*{SUFFIX}")):
            relative = template.relative_to(root).as_posix().removesuffix(SUFFIX)
            relative = relative.replace(PACKAGE_DIR, names.package).replace(PLUGIN_PART, names.plugin)
            files[relative] = string.Template(template.read_text(encoding="utf-8")).substitute(values)
    return files


def _values(names: PluginNames, kind: Kind) -> dict[str, str]:
    return {
        "folder": names.folder, "dist": names.dist, "package": names.package, "plugin": names.plugin,
        "classname": names.classname, "dataset": names.dataset, "model": names.model, "metric": names.metric,
        "kind": kind.name, "task": kind.task, "objective": kind.objective, "suffix": kind.suffix,
        "summary": kind.summary, "format_description": kind.format_description,
        "network_description": kind.network_description, "answer": kind.answer, "width": str(kind.width),
        "input_kind": kind.input_kind,
    }  # fmt: skip


def _write_examples(folder: Path, kind: Kind) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for population, shift in (("target", 0.0), ("pretrain", 0.2)):
        kind.write_example(folder / f"{population}{kind.suffix}", EXAMPLE_ROWS[population], shift, rng)


def _kind(kind: str) -> Kind:
    if kind in KINDS:
        return KINDS[kind]
    close = difflib.get_close_matches(kind, list(KINDS), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(f"unknown --kind {kind!r}{hint}; valid kinds: {', '.join(KINDS)}")
