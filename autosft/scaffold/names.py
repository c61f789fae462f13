"""The names a new plugin gets from the one its author types: folder, distribution, package, components."""

from __future__ import annotations

import re
from dataclasses import dataclass

from autosft.errors import ConfigError

__all__ = ["NAME_RULE", "PluginNames", "plugin_names"]

#: Lowercase words of letters and digits joined by single hyphens or underscores, a letter first: a
#: valid distribution name (PEP 508) that stays a valid Python identifier once hyphens become
#: underscores, and names the same package on every file system (no case to fold).
NAME_RULE = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
PREFIX = "autosft"


@dataclass(frozen=True)
class PluginNames:
    """Every name a generated plugin uses, derived once so the files cannot disagree."""

    folder: str  #: the folder written, as typed: ``acme-sensors``
    dist: str  #: the distribution: ``autosft-acme-sensors``
    package: str  #: the import name: ``autosft_acme_sensors``
    plugin: str  #: the entry point's name, and the prefix of every component: ``acme_sensors``
    classname: str  #: the prefix of its classes: ``AcmeSensors``

    @property
    def dataset(self) -> str:
        return f"{self.plugin}_data"

    @property
    def model(self) -> str:
        return f"{self.plugin}_net"

    @property
    def metric(self) -> str:
        return f"{self.plugin}_true_probability"


def plugin_names(name: str) -> PluginNames:
    """The names for ``name`` (``acme-sensors`` or ``autosft-acme-sensors``); a name breaking the rule
    is a :class:`ConfigError` that states it."""
    domain = re.sub(rf"^{PREFIX}[-_]", "", name)
    if not NAME_RULE.fullmatch(name) or domain == PREFIX:
        raise ConfigError(
            f"plugin name {name!r} is not a valid package name: use lowercase letters and digits, words joined by "
            "single '-' or '_', starting with a letter (e.g. acme-sensors); it becomes the distribution "
            "autosft-<name> and the package autosft_<name>"
        )
    plugin = domain.replace("-", "_")
    return PluginNames(
        folder=name,
        dist=f"{PREFIX}-{plugin.replace('_', '-')}",
        package=f"{PREFIX}_{plugin}",
        plugin=plugin,
        classname="".join(word.capitalize() for word in plugin.split("_")),
    )
