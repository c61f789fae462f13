"""The plugin manager factory: hook specs, built-in plugins, then installed entry points.

A factory rather than a module-level global, so tests and embedding applications can build
managers with different plugin sets side by side.
"""

from __future__ import annotations

import difflib
import importlib
import os

import pluggy

from autosft import hookspecs
from autosft.errors import PluginError

__all__ = [
    "DISABLE_ENV", "ENTRY_POINT_GROUP", "PLUGINS_ENV", "check_hook_names", "get_plugin_manager", "load_plugin_object",
]  # fmt: skip

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
    for plugin in plugins:
        _register(manager, plugin, _plugin_name(plugin))
    for spec in (spec.strip() for spec in os.environ.get(PLUGINS_ENV, "").split(",")):
        if spec:  # named as the user wrote it, so errors point back at the variable's entry
            _register(manager, load_plugin_object(spec), spec)
    if load_entry_points:
        blocked = {name.strip() for name in os.environ.get(DISABLE_ENV, "").split(",") if name.strip()}
        if "*" not in blocked:
            for name in blocked:
                manager.set_blocked(name)
            try:
                manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
            except Exception as error:  # a broken plugin must not take the whole CLI down silently
                raise PluginError(f"cannot load an installed autosft plugin: {error!r}") from error
    check_hook_names(manager)
    return manager


def _register(manager: pluggy.PluginManager, plugin: object, name: str) -> None:
    """Register ``plugin`` under ``name`` (or ``name#2``...); a hook whose arguments match no spec is named."""
    candidate, count = name, 1
    while manager.has_plugin(candidate):  # instances of one class registered twice
        count += 1
        candidate = f"{name}#{count}"
    try:
        manager.register(plugin, name=candidate)
    except pluggy.PluginValidationError as error:
        raise PluginError(f"plugin {candidate!r}: {' '.join(str(error).split())}") from None


def check_hook_names(manager: pluggy.PluginManager) -> None:
    """Fail on a hook implementation that matches no spec (a typo), naming the closest hook."""
    known = [name for name in dir(hookspecs) if name.startswith(f"{hookspecs.PROJECT_NAME}_")]
    for name, caller in vars(manager.hook).items():
        if not isinstance(caller, pluggy.HookCaller) or caller.spec is not None:
            continue
        for implementation in caller.get_hookimpls():
            if implementation.optionalhook:
                continue
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; hooks: {', '.join(known)}"
            raise PluginError(f"plugin {implementation.plugin_name!r} implements an unknown hook {name!r}{hint}")


def _plugin_name(plugin: object) -> str:
    """``module`` for a module, ``module:Class`` for an instance: a name a person can find."""
    if isinstance(plugin, type(os)):
        return plugin.__name__
    kind = type(plugin)
    return f"{kind.__module__}:{kind.__qualname__}"


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
