"""Built-in components, registered through the same hooks third-party plugins use.

Each module here is a plugin of its own, so users can block one by name
(``AUTOSFT_DISABLE_PLUGINS`` only affects installed plugins; these stay) or override its
components by registering their own under different names.
"""

from __future__ import annotations

from autosft.default_plugins import imbalance, metrics, ranking, references, text, vision

MODULES = (metrics, ranking, imbalance, references, text, vision)
