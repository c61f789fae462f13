"""autosft: search how to fine-tune a pre-trained model on your labelled data.

The public API, and everything a plugin may import (``tests/test_architecture.py`` holds plugins
to it): the hook marker, the component contracts plugins implement, the trial contracts hooks see,
the search space and its dimension types, the study file schema, the user-attribute keys, the
error tree, and the helpers plugins share (seeding, the pre-training and data caches, Hugging Face helpers, group-aware
splits, predicting and scoring, the command-line helpers of plugin commands). Names whose modules
import torch, Optuna or Rich are imported on first use, so ``import autosft`` and
``autosft --help`` stay light. Every other module is private: its names may move between releases.
"""

from __future__ import annotations

import importlib
from typing import Any

from autosft.attrs import (
    AS_IS_ATTR,
    CONFIG_ATTR,
    DATA_CHECK_ATTR,
    DEFAULT_TRIAL_ATTR,
    FINAL_TEST_ATTR,
    PORTFOLIO_ATTR,
    QUICK_LOOK_ATTR,
    REFERENCES_ATTR,
    RERUN_ATTR,
    SELECTION_ATTR,
    TARGET_ATTR,
    WARM_START_ATTR,
)
from autosft.components import (
    TASK_TYPES,
    Augmentation,
    BuiltModel,
    DatasetLoader,
    DataSplit,
    ImbalanceStrategy,
    InputEncoder,
    LoaderExample,
    LossFunction,
    Metric,
    ModelBuilder,
    NewRows,
    NoOptions,
    SliceOptions,
    SplitOptions,
    Splits,
    StagedForward,
    TaskType,
    class_counts,
)
from autosft.config import StudyConfig, load_study_file
from autosft.contracts import BUILTIN_DIMENSIONS, TrialContext, TrialPlan, TrialResult, json_safe
from autosft.errors import AutosftError, ConfigError, DataError, PluginError, StorageError, TrialFailure
from autosft.hookspecs import hookimpl
from autosft.plugins import get_plugin_manager
from autosft.portfolios import Portfolio, load_portfolio
from autosft.references import Predict, Reference, ReferenceData
from autosft.space import Categorical, Condition, Dimension, Fixed, Float, Int, SearchSpace
from autosft.splitting import SPLIT_NAMES, check_groups, hold_out, hold_out_missing
from autosft.times import parse_times

#: Modules of the public names imported on first use (they import torch, Optuna, Rich or sklearn).
_LAZY_MODULES: dict[str, tuple[str, ...]] = {
    "autosft.engine.seeding": ("seed_everything", "seeded", "single_thread"),
    "autosft.engine.pretrained": (
        "PretrainingOptions", "cache_file", "cache_root", "clear_memory_cache", "fit_on_source", "pretrained_state",
        "state_key",
    ),
    "autosft.engine.cache": ("cache_dir", "clear_caches", "load_once", "save_npz"),
    "autosft.engine.hf": ("Checkpoint", "class_labels", "quiet_transformers"),
    "autosft.engine.structure": ("Structure", "has_parameters", "shallowest_layers"),
    "autosft.engine.staging": ("hooked_stages",),
    "autosft.engine.device": ("pick_device",),
    "autosft.engine.data": ("to_device_split",),
    "autosft.engine.loop": ("predict",),
    "autosft.engine.scoring": ("ECE_BINS", "expected_calibration_error", "score"),
    "autosft.engine.prepared": ("PreparedStudy",),
    "autosft.default_plugins.imbalance": ("inverse_frequency",),
    "autosft.search.prepare": ("prepare_study",),
    "autosft.search.controller": ("run_search",),
    "autosft.storage": ("open_storage",),
    "autosft.evaluate.references": ("fit_references",),
    "autosft.cli": ("console", "errors", "plugin_manager", "reporting_errors"),
}  # fmt: skip
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names}

__all__ = [
    "AS_IS_ATTR",
    "BUILTIN_DIMENSIONS",
    "CONFIG_ATTR",
    "DATA_CHECK_ATTR",
    "DEFAULT_TRIAL_ATTR",
    "ECE_BINS",
    "FINAL_TEST_ATTR",
    "PORTFOLIO_ATTR",
    "QUICK_LOOK_ATTR",
    "REFERENCES_ATTR",
    "RERUN_ATTR",
    "SELECTION_ATTR",
    "SPLIT_NAMES",
    "TARGET_ATTR",
    "TASK_TYPES",
    "WARM_START_ATTR",
    "Augmentation",
    "AutosftError",
    "BuiltModel",
    "Categorical",
    "Checkpoint",
    "Condition",
    "ConfigError",
    "DataError",
    "DataSplit",
    "DatasetLoader",
    "Dimension",
    "Fixed",
    "Float",
    "ImbalanceStrategy",
    "InputEncoder",
    "Int",
    "LoaderExample",
    "LossFunction",
    "Metric",
    "ModelBuilder",
    "NewRows",
    "NoOptions",
    "PluginError",
    "Portfolio",
    "Predict",
    "PreparedStudy",
    "PretrainingOptions",
    "Reference",
    "ReferenceData",
    "SearchSpace",
    "SliceOptions",
    "SplitOptions",
    "Splits",
    "StagedForward",
    "StorageError",
    "Structure",
    "StudyConfig",
    "TaskType",
    "TrialContext",
    "TrialFailure",
    "TrialPlan",
    "TrialResult",
    "cache_dir",
    "cache_file",
    "cache_root",
    "check_groups",
    "class_counts",
    "class_labels",
    "clear_caches",
    "clear_memory_cache",
    "console",
    "errors",
    "expected_calibration_error",
    "fit_on_source",
    "fit_references",
    "get_plugin_manager",
    "has_parameters",
    "hold_out",
    "hold_out_missing",
    "hooked_stages",
    "hookimpl",
    "inverse_frequency",
    "json_safe",
    "load_once",
    "load_portfolio",
    "load_study_file",
    "open_storage",
    "parse_times",
    "pick_device",
    "plugin_manager",
    "predict",
    "prepare_study",
    "pretrained_state",
    "quiet_transformers",
    "reporting_errors",
    "run_search",
    "save_npz",
    "score",
    "seed_everything",
    "seeded",
    "shallowest_layers",
    "single_thread",
    "state_key",
    "to_device_split",
]  # fmt: skip

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'autosft' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
