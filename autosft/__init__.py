"""autosft: search how to fine-tune a pre-trained model on your labelled data.

The public API: the hook marker for plugins, the component contracts they implement, the error
tree, and :func:`run_search` (imported lazily, since it pulls in Optuna and torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autosft.components import (
    Augmentation,
    BuiltModel,
    DatasetLoader,
    DataSplit,
    ImbalanceStrategy,
    InputEncoder,
    Metric,
    ModelBuilder,
    Splits,
    StagedForward,
)
from autosft.config import StudyConfig, load_study_file
from autosft.errors import AutosftError, ConfigError, DataError, PluginError, StorageError, TrialFailure
from autosft.hookspecs import hookimpl
from autosft.plugins import get_plugin_manager

if TYPE_CHECKING:
    from autosft.search.controller import run_search

__all__ = [
    "Augmentation",
    "AutosftError",
    "BuiltModel",
    "ConfigError",
    "DataError",
    "DataSplit",
    "DatasetLoader",
    "ImbalanceStrategy",
    "InputEncoder",
    "Metric",
    "ModelBuilder",
    "PluginError",
    "Splits",
    "StagedForward",
    "StorageError",
    "StudyConfig",
    "TrialFailure",
    "get_plugin_manager",
    "hookimpl",
    "load_study_file",
    "run_search",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "run_search":
        from autosft.search.controller import run_search

        return run_search
    raise AttributeError(f"module 'autosft' has no attribute {name!r}")
