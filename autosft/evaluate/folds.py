"""Cross-validation for small data: the folds of train+validation that every trial is scored on.

On a validation split of a few hundred rows, differences under ~0.01 are noise, and a search picks
noise. With ``validation: {folds: k}`` a trial trains one model per fold of train and validation
combined (the test split stays untouched) and scores the mean. The folds are stratified by label
(single-label tasks), keep each group of rows (a patient's scans: :attr:`DataSplit.groups`) in one
fold, and are seeded by the study seed, so every trial sees the same folds; their fingerprint goes
into the study (:data:`FOLDS_ATTR`), so a resume on other folds is refused rather than mixed.

Each fold is a :class:`Splits` of its own with a fingerprint of its own, so whatever is keyed by the
fingerprint (the frozen-prefix activation cache) is keyed by fold. References are still fitted on
the train split and scored on the validation split (:mod:`autosft.evaluate.references`); the final
model is refitted on train (or train+val) as without folds and scored once on test.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from autosft.attrs import FOLDS_ATTR
from autosft.components import DataSplit, Splits
from autosft.config import StudyConfig
from autosft.contracts import TrialResult, json_safe
from autosft.errors import ConfigError, DataError
from autosft.evaluate.repeats import take_rows

__all__ = [
    "FOLDS_ATTR", "SMALL_VALIDATION", "concatenated", "cross_validation_folds", "fold_record", "folds_record",
    "mean_result", "record_folds", "small_validation_notice",
]  # fmt: skip

#: Below this many validation rows `validate` and `search` recommend cross-validation.
SMALL_VALIDATION = 500


def concatenated(first: DataSplit, second: DataSplit) -> DataSplit:
    """``first``'s rows, then ``second``'s: inputs, labels and (when both have them) groups."""
    inputs: Any
    if isinstance(first.inputs, Mapping):
        inputs = {name: np.concatenate([first.inputs[name], second.inputs[name]]) for name in first.inputs}
    else:
        inputs = np.concatenate([first.inputs, second.inputs])
    groups = None
    if first.groups is not None and second.groups is not None:
        groups = np.concatenate([np.asarray(first.groups), np.asarray(second.groups)])
    return DataSplit(inputs, np.concatenate([first.labels, second.labels]), groups)


def cross_validation_folds(splits: Splits, folds: int, *, seed: int) -> tuple[Splits, ...]:
    """``folds`` splits whose validation parts divide train+validation; each keeps ``splits``' test.

    Raises :class:`ConfigError` when the data cannot fill that many folds (a class or too few groups).
    """
    combined = concatenated(splits.train, splits.val)
    assignment = _assignment(combined, splits, folds, seed)
    digest = hashlib.sha256(f"{splits.fingerprint}\0{folds}\0".encode() + assignment.tobytes()).hexdigest()[:24]
    return tuple(
        dataclasses.replace(
            splits,
            train=take_rows(combined, np.flatnonzero(assignment != fold)),
            val=take_rows(combined, np.flatnonzero(assignment == fold)),
            fingerprint=f"{digest}-fold{fold + 1}",
            raw_inputs={},  # references fit on the study's own splits, never on a fold
        )
        for fold in range(folds)
    )


def _assignment(combined: DataSplit, splits: Splits, folds: int, seed: int) -> np.ndarray:
    """Each row's fold: stratified by label where there is one label per row, by group where rows have groups."""
    from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

    labels, groups = combined.labels, combined.groups
    single = labels.ndim == 1
    if single:
        counts = np.bincount(labels.astype(np.int64), minlength=splits.num_classes)
        present = np.flatnonzero(counts)
        smallest = present[np.argmin(counts[present])]
        if counts[smallest] < folds:
            raise ConfigError(
                f"validation.folds: {folds} folds need at least {folds} rows of every class in train+validation, "
                f"but class {splits.class_names[smallest]!r} has {counts[smallest]}; use folds <= {counts[smallest]}"
            )
    if groups is not None and (distinct := len(set(np.asarray(groups).tolist()))) < folds:
        raise ConfigError(
            f"validation.folds: {folds} folds need at least {folds} {splits.group_unit}s in train+validation, "
            f"but there are {distinct}; use folds <= {distinct}"
        )
    if groups is not None:
        splitter: Any = (StratifiedGroupKFold if single else GroupKFold)(folds, shuffle=True, random_state=seed)
    else:
        splitter = (StratifiedKFold if single else KFold)(folds, shuffle=True, random_state=seed)
    assignment = np.full(len(labels), -1, dtype=np.int64)
    for fold, (_, held) in enumerate(splitter.split(np.zeros(len(labels)), labels if single else None, groups)):
        assignment[held] = fold
    if len(set(assignment.tolist())) != folds:
        raise DataError(f"validation.folds: {len(labels)} rows of train+validation do not fill {folds} folds")
    return assignment


def folds_record(folds: Sequence[Splits]) -> dict[str, Any] | None:
    """What the study stores about its folds (``None`` without folds): count, fingerprint, rows, groups."""
    if not folds:
        return None
    return {
        "folds": len(folds),
        "fingerprint": folds[0].fingerprint.rsplit("-fold", 1)[0],
        "validation_rows": [len(fold.val) for fold in folds],
        "grouped_by": folds[0].group_unit if folds[0].train.groups is not None else None,
    }


def record_folds(study: Any, folds: Sequence[Splits], *, existing: int, allow: bool) -> None:
    """Store ``folds``' record in the (``optuna.Study``) ``study``; a study with ``existing`` trials scored
    on other folds (or without them) is refused unless ``allow`` (``--allow-data-change``). A study
    that never stored a record (made before cross-validation, or by plain Optuna) is not judged."""
    current = folds_record(folds)
    stored = study.user_attrs.get(FOLDS_ATTR)
    known = FOLDS_ATTR in study.user_attrs
    if existing and known and _identity(stored) != _identity(current) and not allow:
        raise DataError(
            f"study {study.study_name!r} scored its trials on {_describe(stored)}, but this run would use "
            f"{_describe(current)}: their values would not compare; use another --study-name, or pass "
            "--allow-data-change to go on"
        )
    study.set_user_attr(FOLDS_ATTR, current)


def _identity(record: Any) -> tuple[Any, ...] | None:
    return None if not isinstance(record, dict) else (record.get("folds"), record.get("fingerprint"))


def _describe(record: Any) -> str:
    if not isinstance(record, dict):
        return "the validation split"
    return f"{record['folds']} folds (fingerprint {str(record['fingerprint'])[:12]})"


def fold_record(fold: int, result: TrialResult) -> dict[str, Any]:
    """One fold's scores as a trial stores them (:data:`~autosft.attrs.FOLD_SCORES_ATTR`)."""
    return {
        "fold": fold,
        "values": result.values,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "metrics": json_safe(result.metrics),
        "seconds": round(result.timings.get("total_seconds", 0.0), 3),
    }


def mean_result(results: Sequence[TrialResult]) -> TrialResult:
    """One trial's result over its folds: the mean of each objective and metric.

    ``best_epoch`` is the rounded mean best epoch (what a train+val refit trains for), ``epochs_run``
    and the timings are sums (the work done), and ``history`` is the first fold's learning curve: the
    fold every trial ran, pruned ones too, so curves compare across trials.
    """
    first = results[0]
    keys = [key for key in first.metrics if all(key in result.metrics for result in results)]
    timings = {key: sum(result.timings.get(key, 0.0) for result in results) for key in first.timings}
    notes = list(dict.fromkeys(note for result in results for note in result.notes))
    return TrialResult(
        values=[_mean([result.values[index] for result in results]) for index in range(len(first.values))],
        best_epoch=round(_mean([float(result.best_epoch) for result in results])),
        epochs_run=sum(result.epochs_run for result in results),
        metrics={key: _mean([result.metrics[key] for result in results]) for key in keys},
        history=first.history,
        timings=timings,
        trainable_parameters=first.trainable_parameters,
        total_parameters=first.total_parameters,
        stopped_early=any(result.stopped_early for result in results),
        notes=notes,
    )


def _mean(values: Sequence[float]) -> float:
    """The mean; NaN when any value is (a fold whose metric is undefined leaves the mean undefined)."""
    return math.fsum(values) / len(values)


def small_validation_notice(config: StudyConfig, splits: Splits) -> str | None:
    """One line recommending cross-validation when validation is small and no folds are set, else ``None``."""
    if config.validation.folds is not None or config.task == "ranking" or len(splits.val) >= SMALL_VALIDATION:
        return None
    return (
        f"validation holds {len(splits.val)} rows (< {SMALL_VALIDATION}): score differences under ~0.01 are noise "
        "there; `validation: {folds: 5}` in the study file scores each trial by 5-fold cross-validation"
    )
