"""`autosft export` as a function: retrain the selected trial, test it once, write a deployable folder.

Everything comes from the study itself (its stored study file and trials), so an export needs
only the storage URL and the study name. The folder is built under a temporary name beside the
target and renamed at the end: a failed export leaves nothing half-written and keeps an earlier
export, and ``--force`` replaces an earlier export only once the new one is complete.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pluggy
import yaml

from autosft.config import StudyConfig
from autosft.engine.device import DeviceSetup, pick_device
from autosft.errors import ConfigError, PluginError
from autosft.evaluate.bootstrap import DEFAULT_RESAMPLES, bootstrap_intervals
from autosft.evaluate.calibration import Calibration, calibrate
from autosft.evaluate.holdout import selected_trial
from autosft.evaluate.references import REFERENCES_ATTR, score_on_test
from autosft.evaluate.refit import Refit, RefitMode, refit
from autosft.evaluate.retained import retained_performance
from autosft.evaluate.slices import model_slices
from autosft.evaluate.verdict import best_trial_value, summarize
from autosft.export import runcard
from autosft.export.model import MODEL_DESCRIPTION, save_model
from autosft.export.onnx import export_onnx
from autosft.plugins import get_plugin_manager
from autosft.registry import ComponentTable, Registry, collect_registry
from autosft.search.prepare import PreparedStudy, prepare_study
from autosft.search.study import load_existing_study, stored_config
from autosft.space import SearchSpace
from autosft.storage import mask_url, open_storage

__all__ = ["BEST_CONFIG", "PREDICTIONS", "RUN_CARD", "TEST_METRICS", "ExportOutcome", "export_study", "fixed_study"]

BEST_CONFIG = "best_config.yaml"
RUN_CARD = "run_card.json"
TEST_METRICS = "test_metrics.json"
PREDICTIONS = "test_predictions.npz"
CONFIDENCE_LEVEL = 0.95


@dataclass
class ExportOutcome:
    """What an export wrote and measured."""

    folder: Path
    trial: int
    test_metrics: dict[str, dict[str, Any]]
    retained: dict[str, Any] | None
    seconds: float
    #: The verdict against the study's references (:func:`autosft.evaluate.verdict.summarize`).
    references: dict[str, Any] | None = None
    #: The ONNX export's record (:func:`autosft.export.onnx.export_onnx`), with ``--onnx``.
    onnx: dict[str, Any] | None = None
    #: The calibration's record (:func:`autosft.evaluate.calibration.calibrate`).
    calibration: dict[str, Any] | None = None
    #: The exported model per slice (:func:`autosft.evaluate.slices.model_slices`), with ``slices``.
    slices: dict[str, Any] | None = None


def export_study(
    storage_url: str,
    study_name: str | None,
    out: str | Path,
    *,
    refit_mode: RefitMode = "train",
    merge_lora: bool = False,
    onnx: bool = False,
    calibrate_probabilities: bool = True,
    force: bool = False,
    resamples: int = DEFAULT_RESAMPLES,
    device: str | None = None,
    manager: pluggy.PluginManager | None = None,
) -> ExportOutcome:
    """Retrain the study's selected trial, score it once on test with bootstrap intervals, write ``out``.

    ``onnx`` also writes ``model.onnx``, checked against torch on the test rows (see :mod:`autosft.export.onnx`).
    ``calibrate_probabilities=False`` exports the model as trained, without temperature scaling.
    """
    started = time.perf_counter()
    target = Path(out)
    _check_target(target, force=force)
    study, trial, prepared = _prepared(storage_url, study_name, manager or get_plugin_manager())
    config = prepared.config
    setup = pick_device(device)
    refitted = refit(prepared, trial, setup, refit_mode)
    calibration = calibrate(prepared, refitted, setup, enabled=calibrate_probabilities)
    tick = time.perf_counter()
    test = prepared.splits.test
    intervals = bootstrap_intervals(prepared.metrics, test.labels, calibration.test_probabilities,
                                    resamples=resamples, level=CONFIDENCE_LEVEL, seed=config.seed)  # fmt: skip
    bootstrap_seconds = time.perf_counter() - tick
    references = _references(study, prepared, trial, refit_mode, calibration.test_probabilities, intervals, resamples)
    retained = None
    if prepared.reference is not None:
        retained = retained_performance(prepared, refitted.module, refitted.plan, setup)
    slices = model_slices(prepared, refitted.module, calibration.test_probabilities, setup, trial=trial.number,
                          temperature=calibration.temperature)  # fmt: skip

    with _staged(target) as staging:
        tock = time.perf_counter()
        save_model(refitted.module, staging, config=config, merge_lora=merge_lora,
                   temperature=calibration.temperature)  # fmt: skip
        onnx_record = export_onnx(refitted.module, test, staging, temperature=calibration.temperature) if onnx else None
        best = fixed_study(config, prepared.space, trial)
        (staging / BEST_CONFIG).write_text(_BEST_CONFIG_HEADER + yaml.safe_dump(best, sort_keys=False))
        _save_predictions(staging / PREDICTIONS, prepared, refitted, calibration)
        _write_json(staging / TEST_METRICS, {"trial": trial.number, "refit": refit_mode, "test_rows": len(test),
                                             **_bootstrap_record(resamples, config.seed), "metrics": intervals,
                                             "calibration": calibration.record, "retained": retained,
                                             "references": references, "slices": slices})  # fmt: skip
        seconds = {
            "refit_train": refitted.train_seconds,
            "test_predict": refitted.predict_seconds,
            "bootstrap": bootstrap_seconds,
            "write": time.perf_counter() - tock,
            "export_total": time.perf_counter() - started,
        }
        card = _run_card(study, storage_url, trial, prepared, refitted, setup, seconds) | {"onnx": onnx_record}
        _write_json(staging / RUN_CARD, {**card, "calibration": calibration.record, "references": references,
                                         "slices": slices})  # fmt: skip
    return ExportOutcome(target, trial.number, intervals, retained, time.perf_counter() - started, references,
                         onnx_record, calibration.record, slices)  # fmt: skip


def _prepared(
    storage_url: str, study_name: str | None, manager: pluggy.PluginManager
) -> tuple[optuna.Study, optuna.trial.FrozenTrial, PreparedStudy]:
    """The stored study, its selected trial, and the study prepared from its stored file."""
    study = load_existing_study(open_storage(storage_url, must_exist=True), storage_url, study_name)
    config = stored_config(study, storage_url)
    trial = selected_trial(study)
    registry = collect_registry(manager)
    _require_installed(config, registry, trial)
    return study, trial, prepare_study(config, manager, registry)


def _save_predictions(path: Path, prepared: PreparedStudy, refitted: Refit, calibration: Calibration) -> None:
    """The exported model's test probabilities, and, when calibrated, the model's before it, for the report."""
    arrays: dict[str, Any] = {"labels": prepared.splits.test.labels, "probabilities": calibration.test_probabilities,
              "class_names": np.array(prepared.splits.class_names)}  # fmt: skip
    if calibration.applied:
        arrays["uncalibrated_probabilities"] = refitted.test_probabilities
    np.savez_compressed(path, **arrays)


def _bootstrap_record(resamples: int, seed: int) -> dict[str, Any]:
    """How the test intervals were drawn, for ``test_metrics.json``."""
    return {
        "confidence_level": CONFIDENCE_LEVEL,
        "bootstrap": {"resamples": resamples, "seed": seed, "method": "percentile"},
    }


@contextlib.contextmanager
def _staged(target: Path) -> Iterator[Path]:
    """A fresh folder beside ``target`` that replaces it only once everything in it is written, so a
    failed or interrupted export never leaves half a model where an earlier export was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)  # _check_target allowed it: --force over an earlier export
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def fixed_study(config: StudyConfig, space: SearchSpace, trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The study file with every dimension pinned to the trial's values: one trial re-runs it.

    It gets its own study name, so re-running it never adds a trial to the searched study, and no
    pruner, so the single trial trains to its end.
    """
    raw = config.model_dump(mode="json", exclude_unset=True)
    raw["name"] = f"{config.name}-best"
    raw["storage"] = mask_url(config.storage)  # a file to share: the password is not in it
    raw["search_space"] = {name: {"value": value} for name, value in space.values_of(trial.params).items()}
    raw["budget"] = {**raw.get("budget", {}), "n_trials": 1}
    raw["budget"].pop("timeout", None)
    raw["pruner"] = {"name": "none"}
    return raw


_BEST_CONFIG_HEADER = (
    "# The selected configuration of an autosft study, every search dimension fixed:\n"
    "# `autosft search best_config.yaml` retrains it as a one-trial study.\n"
)


def _check_target(target: Path, *, force: bool) -> None:
    """Refuse a non-empty folder, unless ``force`` and it holds an earlier export (never a user's files)."""
    if target.exists() and not target.is_dir():
        raise ConfigError(f"--out {str(target)!r} is a file, not a folder")
    if not target.is_dir() or not any(target.iterdir()):
        return
    if not force:
        raise ConfigError(f"--out {str(target)!r} exists and is not empty; pass --force to replace an earlier export")
    if not (target / MODEL_DESCRIPTION).is_file():
        raise ConfigError(
            f"--out {str(target)!r} is not empty and holds no autosft export ({MODEL_DESCRIPTION} is missing); "
            "--force replaces only an earlier export: pick another folder"
        )
    if target.resolve() == Path.cwd().resolve():
        raise ConfigError("--out must not be the working directory itself")


def _require_installed(config: StudyConfig, registry: Registry, trial: optuna.trial.FrozenTrial) -> None:
    """Every component the study and its selected trial used must still be registered; name the one missing."""
    plan = trial.user_attrs.get("plan", {})
    needed: list[tuple[str, ComponentTable[Any], str]] = [
        ("dataset", registry.datasets, config.dataset.name),
        ("model", registry.models, config.model.name),
    ]
    needed += [("metric", registry.metrics, objective.metric) for objective in config.objectives]
    if config.reference is not None:
        needed.append(("dataset", registry.datasets, config.reference.name))
    if plan.get("imbalance", "none") != "none":
        needed.append(("imbalance strategy", registry.imbalance, plan["imbalance"]))
    if plan.get("augmentation", "none") != "none":
        needed.append(("augmentation", registry.augmentations, plan["augmentation"]))
    for kind, table, name in needed:
        if name not in table.entries:
            installed = ", ".join(sorted(table.entries)) or "none"
            raise PluginError(
                f"study {config.name!r} uses {kind} {name!r}, which no installed plugin registers (installed: "
                f"{installed}); install the plugin that provides {name!r} and export again"
            )


def _references(
    study: optuna.Study,
    prepared: PreparedStudy,
    trial: optuna.trial.FrozenTrial,
    mode: RefitMode,
    test_probabilities: np.ndarray,
    intervals: dict[str, dict[str, Any]],
    resamples: int,
) -> dict[str, Any] | None:
    """The study's references refitted like this export (train or train+val), scored once on test
    beside the exported model (its ``test_probabilities``); ``None`` for a study without a reference record."""
    record = study.user_attrs.get(REFERENCES_ATTR)
    if not isinstance(record, dict):
        return None
    compared = score_on_test(prepared, record, test_probabilities, mode, resamples=resamples)
    model_test = {name: interval["value"] for name, interval in intervals.items()}
    return summarize(
        record,
        compared,
        trial=trial,
        model_test=model_test,
        best_trial_value=best_trial_value(study, record["objective"]),
    )


def _run_card(
    study: optuna.Study,
    storage_url: str,
    trial: optuna.trial.FrozenTrial,
    prepared: PreparedStudy,
    refitted: Refit,
    setup: DeviceSetup,
    seconds: dict[str, float],
) -> dict[str, Any]:
    config = prepared.config
    return {
        "created": runcard.created_at(),
        "versions": runcard.package_versions(prepared.manager),
        "study": runcard.search_record(study, storage_url, trial),
        "refit": {
            "mode": refitted.mode,
            "plan": refitted.plan.as_dict(),
            "epochs_run": refitted.result.epochs_run,
            "best_epoch": refitted.result.best_epoch,
        },
        "seeds": {"study": config.seed, "training": refitted.plan.seed, "bootstrap": config.seed},
        "data": runcard.data_record(prepared.splits),
        "components": {
            "dataset": config.dataset.model_dump(mode="json"),
            "model": config.model.model_dump(mode="json"),
            "objectives": [objective.model_dump(mode="json") for objective in config.objectives],
            "reference": None if config.reference is None else config.reference.model_dump(mode="json"),
        },
        "hardware": runcard.hardware(setup),
        "seconds": {name: round(value, 3) for name, value in seconds.items()},
    }


def _write_json(path: Path, record: dict[str, Any]) -> None:
    path.write_text(json.dumps(_finite(record), indent=2, default=str) + "\n")


def _finite(value: Any) -> Any:
    """NaN and infinities as ``null``: JSON has neither, and strict readers reject them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
