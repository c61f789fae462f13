"""The plugin manager factory: hook specs, built-in plugins, then installed entry points.

A factory rather than a module-level global, so tests and embedding applications can build
managers with different plugin sets side by side.
"""

from __future__ import annotations

import importlib
import os

import pluggy

from autosft import hookspecs
from autosft.errors import PluginError

__all__ = ["DISABLE_ENV", "ENTRY_POINT_GROUP", "PLUGINS_ENV", "get_plugin_manager", "load_plugin_object"]

ENTRY_POINT_GROUP = "autosft"
#: Comma-separated plugin (entry-point) names to skip; ``*`` skips every installed plugin.
DISABLE_ENV = "AUTOSFT_DISABLE_PLUGINS"
#: Comma-separated ``module`` or ``module:attribute`` plugins to add without packaging them (a
#: class is instantiated). Worker processes inherit it, so they see the same plugins.
PLUGINS_ENV = "AUTOSFT_PLUGINS"


def get_plugin_manager(*, load_entry_points: bool = True, plugins: tuple[object, ...] = ()) -> pluggy.PluginManager:
    """Build a plugin manager with the built-in plugins, ``plugins``, and installed ones.

    Installed plugins come from the ``autosft`` entry-point group unless their name is listed in
    ``$AUTOSFT_DISABLE_PLUGINS``. A hook implementation whose name matches no hook spec (a typo)
    raises :class:`PluginError` instead of being silently ignored.
    """
    from autosft import default_plugins

    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    for module in default_plugins.MODULES:
        manager.register(module, name=f"autosft.{module.__name__.rsplit('.', 1)[-1]}")
    extra = [load_plugin_object(spec.strip()) for spec in os.environ.get(PLUGINS_ENV, "").split(",") if spec.strip()]
    for plugin in (*plugins, *extra):
        manager.register(plugin)
    if load_entry_points:
        blocked = {name.strip() for name in os.environ.get(DISABLE_ENV, "").split(",") if name.strip()}
        if "*" not in blocked:
            for name in blocked:
                manager.set_blocked(name)
            try:
                manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
            except Exception as error:  # a broken plugin must not take the whole CLI down silently
                raise PluginError(f"cannot load an installed autosft plugin: {error!r}") from error
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        raise PluginError(f"plugin {error.plugin!r} implements an unknown hook: {error}") from None
    return manager


def load_plugin_object(spec: str) -> object:
    """Import ``module`` or ``module:attribute``; a class is instantiated."""
    module_name, _, attribute = spec.partition(":")
    try:
        plugin: object = importlib.import_module(module_name)
        if attribute:
            plugin = getattr(plugin, attribute)
    except (ImportError, AttributeError) as error:
        raise PluginError(f"{PLUGINS_ENV} names {spec!r}, which cannot be loaded: {error}") from None
    return plugin() if isinstance(plugin, type) else plugin
