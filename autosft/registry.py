"""Named components collected from the ``autosft_register_*`` hooks.

Each hook implementation is called on its own so every component is recorded with the plugin that
registered it: a name claimed twice is reported with both plugins, and an unknown name is reported
with the valid ones.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pluggy

from autosft.components import Augmentation, DatasetLoader, ImbalanceStrategy, Metric, ModelBuilder
from autosft.errors import AutosftError, ConfigError, PluginError
from autosft.portfolios import Portfolio
from autosft.references.base import Reference

__all__ = ["ComponentTable", "Registry", "collect_registry", "unknown_name"]

T = TypeVar("T")


@dataclass
class ComponentTable(Generic[T]):
    """Components of one kind by name, each with the plugin that registered it."""

    kind: str
    plural: str
    base: type
    entries: dict[str, tuple[T, str]] = field(default_factory=dict)

    def add(self, component: T, plugin: str) -> None:
        if isinstance(component, type):  # the commonest slip: ``register(MyLoader)``
            raise PluginError(
                f"plugin {plugin!r} registered the class {component.__name__} as {_article(self.kind)}; "
                f"pass an instance: {component.__name__}()"
            )
        if not isinstance(component, self.base):
            raise PluginError(
                f"plugin {plugin!r} registered {component!r} as {_article(self.kind)}, "
                f"but it is not {_article(self.base.__name__)}"
            )
        name = getattr(component, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin!r} registered a {self.kind} without a name: {component!r}")
        if name in self.entries:
            first = self.entries[name][1]
            raise PluginError(f"{self.kind} name {name!r} is registered by both {first!r} and {plugin!r}")
        self.entries[name] = (component, plugin)

    def get(self, name: str) -> T:
        """The component called ``name``; a :class:`ConfigError` lists the valid names otherwise."""
        try:
            return self.entries[name][0]
        except KeyError:
            raise ConfigError(unknown_name(self.kind, name, self.entries, label="valid names")) from None

    def plugin_of(self, name: str) -> str:
        """The plugin that registered ``name``."""
        return self.entries[name][1]

    def names(self) -> list[str]:
        return list(self.entries)

    def values(self) -> list[T]:
        return [component for component, _ in self.entries.values()]

    def by_plugin(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for name, (_, plugin) in self.entries.items():
            grouped.setdefault(plugin, []).append(name)
        return grouped


@dataclass
class Registry:
    """Every named component available to a study."""

    datasets: ComponentTable[DatasetLoader]
    models: ComponentTable[ModelBuilder]
    augmentations: ComponentTable[Augmentation]
    imbalance: ComponentTable[ImbalanceStrategy]
    metrics: ComponentTable[Metric]
    references: ComponentTable[Reference] = field(
        default_factory=lambda: ComponentTable("reference", "references", Reference)
    )
    portfolios: ComponentTable[Portfolio] = field(
        default_factory=lambda: ComponentTable("portfolio", "portfolios", Portfolio)
    )

    def tables(self) -> Iterable[ComponentTable[Any]]:
        return (
            self.datasets, self.models, self.augmentations, self.imbalance, self.metrics, self.references,
            self.portfolios,
        )  # fmt: skip


def collect_registry(manager: pluggy.PluginManager) -> Registry:
    """Call every ``autosft_register_*`` implementation and gather what it registers."""
    registry = Registry(
        datasets=ComponentTable("dataset", "datasets", DatasetLoader),
        models=ComponentTable("model", "models", ModelBuilder),
        augmentations=ComponentTable("augmentation", "augmentations", Augmentation),
        imbalance=ComponentTable("imbalance strategy", "imbalance strategies", ImbalanceStrategy),
        metrics=ComponentTable("metric", "metrics", Metric),
    )
    hooks: list[tuple[str, ComponentTable[Any]]] = [
        ("autosft_register_datasets", registry.datasets),
        ("autosft_register_models", registry.models),
        ("autosft_register_augmentations", registry.augmentations),
        ("autosft_register_imbalance_strategies", registry.imbalance),
        ("autosft_register_metrics", registry.metrics),
        ("autosft_register_references", registry.references),
        ("autosft_register_portfolios", registry.portfolios),
    ]
    for hook_name, table in hooks:
        # get_hookimpls() lists implementations in registration order (trylast built-ins first).
        for implementation in getattr(manager.hook, hook_name).get_hookimpls():
            plugin = implementation.plugin_name
            try:
                returned = implementation.function(register=_recorder(table, plugin))
            except AutosftError:
                raise
            except Exception as error:  # a broken plugin is named, not shown as a bare traceback
                raise PluginError(
                    f"plugin {plugin!r} failed in {hook_name}: {type(error).__name__}: {error}"
                ) from error
            if returned is not None:  # components handed back rather than registered would vanish
                raise PluginError(
                    f"plugin {plugin!r}: {hook_name} returned {type(returned).__name__}; "
                    "call register(component) for each component instead of returning them"
                )
    return registry


def unknown_name(kind: str, name: str, valid: Iterable[str], *, label: str) -> str:
    """``unknown KIND 'NAME' (did you mean 'X'?); LABEL: a, b``: the one-line reason for a name not found."""
    names = sorted(valid)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {kind} {name!r}{hint}; {label}: {', '.join(names) or 'none registered'}"


def _article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _recorder(table: ComponentTable[Any], plugin: str) -> Callable[[Any], None]:
    def register(component: Any) -> None:
        table.add(component, plugin)

    return register
