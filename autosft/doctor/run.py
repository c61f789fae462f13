"""Which plugins and components the doctor checks, on which data, in which order.

Loaders come first: their example splits are what the plugin's own models are built on (before
the generated tiny data of each input kind) and what its augmentations of kinds the doctor cannot
generate run on.
"""

from __future__ import annotations

import difflib
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pluggy

from autosft.components import Splits
from autosft.doctor.findings import Finding, Status
from autosft.doctor.loaders import check_loader
from autosft.doctor.models import check_builder
from autosft.doctor.parts import check_augmentation, check_imbalance, check_metric
from autosft.doctor.tiny import TINY_KINDS, tiny_splits
from autosft.errors import AutosftError, ConfigError
from autosft.registry import Registry, collect_registry

__all__ = ["check_plugins", "plugin_names", "resolve_plugin"]

#: Rows of a loader's example an augmentation runs on.
BATCH_ROWS = 8


def plugin_names(manager: pluggy.PluginManager) -> dict[str, str]:
    """Each plugin's name, by itself and by its distribution's name (``autosft-retail-recsys``)."""
    names = {name: name for name, plugin in manager.list_name_plugin() if plugin is not None}
    for plugin, dist in manager.list_plugin_distinfo():
        name = manager.get_name(plugin)
        if name in names:
            names.setdefault(dist.project_name, name)
    return names


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def resolve_plugin(manager: pluggy.PluginManager, name: str) -> str:
    """The plugin called ``name`` (or whose distribution is); a :class:`ConfigError` with the closest otherwise."""
    names = plugin_names(manager)
    by_normal = {_normal(key): value for key, value in names.items()}
    if _normal(name) in by_normal:
        return by_normal[_normal(name)]
    close = difflib.get_close_matches(name, list(names), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    plugins = ", ".join(sorted(set(names.values())))
    raise ConfigError(f"unknown plugin {name!r}{hint}; plugins: {plugins}")


def _checked_tables(registry: Registry) -> tuple[Any, ...]:
    return (registry.datasets, registry.models, registry.metrics, registry.augmentations, registry.imbalance)


def _own(table: Any, plugin: str) -> list[Any]:
    return [table.get(name) for name in table.by_plugin().get(plugin, [])]


def _check_models(registry: Registry, plugin: str, loaded: Sequence[Splits]) -> Iterator[Finding]:
    from autosft.search.prepare import validate_options

    generated = [tiny_splits(kind) for kind in TINY_KINDS]
    for builder in _own(registry.models, plugin):
        try:
            options = validate_options(builder.Options, dict(builder.example_options), "example_options")
        except AutosftError as error:
            status: Status = "FAIL" if builder.example_options else "skipped"
            where = "example_options" if builder.example_options else "the default options"
            detail = f"{where} do not validate ({error}); set example_options to options it builds with"
            yield Finding(status, plugin, "model", builder.name, detail)
            continue
        yield from check_builder(builder, plugin, options, loaded, generated)


def check_plugin(registry: Registry, plugin: str, folder: Path) -> Iterator[Finding]:
    """Every finding on the components ``plugin`` registered, loaders first."""
    if not any(plugin in table.by_plugin() for table in _checked_tables(registry)):
        yield Finding("skipped", plugin, "plugin", plugin, "registers no dataset, model, metric, augmentation or "
                                                           "imbalance strategy to check")  # fmt: skip
        return
    loaded: list[Splits] = []
    for loader in _own(registry.datasets, plugin):
        finding, splits = check_loader(loader, plugin, folder / loader.name)
        yield finding
        if splits is not None:
            loaded.append(splits)
    yield from _check_models(registry, plugin, loaded)
    for metric in _own(registry.metrics, plugin):
        yield from check_metric(metric, plugin)
    examples = {splits.input_kind: _batch(splits) for splits in loaded if splits.input_kind != "text"}
    for augmentation in _own(registry.augmentations, plugin):
        yield from check_augmentation(augmentation, plugin, examples)
    for strategy in _own(registry.imbalance, plugin):
        yield from check_imbalance(strategy, plugin)


def _batch(splits: Splits) -> Any:
    inputs = splits.train.inputs
    if isinstance(inputs, dict):
        return {key: value[:BATCH_ROWS] for key, value in inputs.items()}
    return inputs[:BATCH_ROWS]


def check_plugins(manager: pluggy.PluginManager, plugins: Sequence[str]) -> Iterator[Finding]:
    """Findings for each of ``plugins`` (resolved names) in turn; example files go to a temporary folder."""
    registry = collect_registry(manager)
    with tempfile.TemporaryDirectory(prefix="autosft-doctor-") as folder:
        for plugin in plugins:
            yield from check_plugin(registry, plugin, Path(folder) / re.sub(r"\W+", "_", plugin))
