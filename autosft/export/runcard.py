"""``run_card.json``: the record that lets someone else reproduce an exported model.

It names every version that shapes the result (autosft, torch, transformers, peft, optuna and
the plugins' distributions), the seeds, the data fingerprint and split sizes, the study and the
trial numbers behind the selection, the hardware, and the wall times of the search and export.
"""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import optuna
import pluggy
import torch

from autosft.attrs import REFERENCE_BASELINE_ATTR
from autosft.components import Splits
from autosft.engine.device import DeviceSetup
from autosft.evaluate.constraints import extra_metrics, is_feasible
from autosft.storage import mask_url

__all__ = ["CORE_PACKAGES", "created_at", "data_record", "hardware", "package_versions", "search_record"]

#: Distributions whose versions change what a fine-tuning run produces.
CORE_PACKAGES = ("autosft", "torch", "transformers", "peft", "optuna", "numpy", "scikit-learn", "safetensors")


def package_versions(manager: pluggy.PluginManager) -> dict[str, Any]:
    """Versions of the core packages and of every plugin distribution the manager loaded."""
    core: dict[str, str | None] = {}
    for name in CORE_PACKAGES:
        try:
            core[name] = version(name)
        except PackageNotFoundError:
            core[name] = None
    plugins = {dist.project_name: dist.version for _, dist in manager.list_plugin_distinfo()}
    return {"python": platform.python_version(), **core, "plugins": dict(sorted(plugins.items()))}


def hardware(device: DeviceSetup) -> dict[str, Any]:
    """Where the export trained: host, CPU, torch threads, and the accelerator if any."""
    record: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device.device),
    }
    if device.device.type == "cuda":
        properties = torch.cuda.get_device_properties(device.device)
        record |= {"accelerator": properties.name, "accelerator_memory_gib": round(properties.total_memory / 2**30, 1)}
    return record


def search_record(study: optuna.Study, storage_url: str, selected: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The study behind the export: its trials by state (and how many missed a constraint), the
    selected trial with its extra scores (retained performance during the search) and constraint
    values, the pre-trained model's reference scores, and the search's wall time."""
    trials = study.get_trials(deepcopy=False)
    states: dict[str, int] = {}
    for trial in trials:
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
    starts = [trial.datetime_start for trial in trials if trial.datetime_start is not None]
    ends = [trial.datetime_complete for trial in trials if trial.datetime_complete is not None]
    trial_seconds = sum(trial.duration.total_seconds() for trial in trials if trial.duration is not None)
    return {
        "study_name": study.study_name,
        "storage": mask_url(storage_url),
        "directions": [direction.name.lower() for direction in study.directions],
        "trials": len(trials),
        "states": states,
        "selected_trial": selected.number,
        "selected_values": selected.values,
        "selected_params": selected.params,
        "selected_best_epoch": selected.user_attrs.get("best_epoch"),
        "selected_extra_metrics": extra_metrics(selected),
        "selected_constraints": selected.constraints,
        "infeasible_trials": sum(trial.state.is_finished() and not is_feasible(trial) for trial in trials),
        "reference_baseline": study.user_attrs.get(REFERENCE_BASELINE_ATTR),
        "trial_seconds_total": round(trial_seconds, 3),
        "search_wall_seconds": round((max(ends) - min(starts)).total_seconds(), 3) if starts and ends else None,
    }


def data_record(splits: Splits) -> dict[str, Any]:
    """What identifies the data: the loader's fingerprint, split sizes and class names."""
    return {
        "fingerprint": splits.fingerprint,
        "rows": {name: len(getattr(splits, name)) for name in ("train", "val", "test")},
        "pretrain_rows": None if splits.pretrain is None else len(splits.pretrain),
        "classes": list(splits.class_names),
        "task": splits.task,
        "input_kind": splits.input_kind,
    }


def created_at() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
