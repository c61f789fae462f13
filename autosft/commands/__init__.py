"""The built-in commands: search, worker, status, best, export, report, drift, rank-unlabeled, plugins, validate,
check-data, schema, new-plugin.

One module per group (:mod:`.searching`, :mod:`.inspecting`, :mod:`.checking`, :mod:`.exporting`,
:mod:`.drifting`, :mod:`.labelling`, :mod:`.scaffolding`) over the options they share (:mod:`.options`).
Each command imports what it needs when it runs, which keeps ``autosft --help`` free of torch and optuna.
"""

from __future__ import annotations

from collections.abc import Callable

from autosft.commands.checking import check_data, schema, validate
from autosft.commands.drifting import drift
from autosft.commands.exporting import export, report
from autosft.commands.inspecting import best, plugins, status
from autosft.commands.labelling import rank_unlabeled
from autosft.commands.scaffolding import new_plugin
from autosft.commands.searching import search, worker

__all__ = ["COMMANDS"]

COMMANDS: dict[str, Callable[..., None]] = {
    "search": search,
    "worker": worker,
    "status": status,
    "best": best,
    "plugins": plugins,
    "validate": validate,
    "check-data": check_data,
    "export": export,
    "report": report,
    "drift": drift,
    "rank-unlabeled": rank_unlabeled,
    "schema": schema,
    "new-plugin": new_plugin,
}
