"""`autosft plugins --check [NAME]`: the plugin doctor's findings, one line each, and a count per plugin."""

from __future__ import annotations

import time
from collections import Counter

import pluggy

from autosft.cli_support import console

__all__ = ["run_doctor"]


def run_doctor(manager: pluggy.PluginManager, name: str | None) -> int:
    """Print every finding on plugin ``name`` (all plugins when ``None``); the exit code: 1 on any failure."""
    from autosft.doctor import check_plugins, plugin_names, resolve_plugin

    everyone = list(dict.fromkeys(plugin_names(manager).values()))
    plugins = [resolve_plugin(manager, name)] if name is not None else everyone
    counts: dict[str, Counter[str]] = {plugin: Counter() for plugin in plugins}
    started = time.perf_counter()
    for finding in check_plugins(manager, plugins):
        if not counts[finding.plugin]:  # the plugin's first finding: the previous plugin is done
            started = _summary(plugins, counts, finding.plugin, started)
        counts[finding.plugin][finding.status] += 1
        console.print(finding.line(), soft_wrap=True)
    _summary(plugins, counts, None, started)
    return 1 if any(count["FAIL"] for count in counts.values()) else 0


def _summary(plugins: list[str], counts: dict[str, Counter[str]], starting: str | None, started: float) -> float:
    """Print the count line of the plugin checked before ``starting``; the time its successor starts at."""
    index = plugins.index(starting) if starting is not None else len(plugins)
    if index > 0:
        count, seconds = counts[plugins[index - 1]], time.perf_counter() - started
        console.print(f"{plugins[index - 1]}: {count['ok']} ok, {count['FAIL']} failed, {count['skipped']} skipped "
                      f"in {seconds:.1f}s")  # fmt: skip
    return time.perf_counter()
