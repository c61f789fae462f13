"""The plugin doctor behind ``autosft plugins --check``: every component a plugin registers, checked
against its contract on tiny data (generated per input kind, or the plugin's own loader example),
one :class:`Finding` per check.

Layered above the search (it reuses the study preparation's option and model checks) and below the
commands, which print the findings.
"""

from __future__ import annotations

from autosft.doctor.findings import Finding, Status
from autosft.doctor.run import check_plugins, plugin_names, resolve_plugin
from autosft.doctor.tiny import TINY_KINDS, tiny_batch_inputs, tiny_labels, tiny_probabilities, tiny_splits

__all__ = [
    "TINY_KINDS", "Finding", "Status", "check_plugins", "plugin_names", "resolve_plugin", "tiny_batch_inputs",
    "tiny_labels", "tiny_probabilities", "tiny_splits",
]  # fmt: skip
