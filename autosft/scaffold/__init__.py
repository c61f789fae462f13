"""``autosft new-plugin``: a complete, installable plugin package written from template files.

The templates are plain files under ``templates/`` (package data), filled with
:class:`string.Template`; :mod:`.kinds` says which folders a kind is made of and the words that
differ between kinds, :mod:`.examples` writes the tiny example data each kind ships.
"""

from __future__ import annotations

from autosft.scaffold.kinds import KINDS, Kind
from autosft.scaffold.names import NAME_RULE, PluginNames, plugin_names
from autosft.scaffold.render import render_files, write_plugin

__all__ = ["KINDS", "NAME_RULE", "Kind", "PluginNames", "plugin_names", "render_files", "write_plugin"]
