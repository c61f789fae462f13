"""Cross-validation for small data: the folds of train+validation that every trial is scored on.

On a validation split of a few hundred rows, differences under ~0.01 are noise, and a search picks
noise. With ``validation: {folds: k}`` a trial trains one model per fold of train and validation
combined (the test split stays untouched) and scores the folds' mean learning curve at its best
epoch (:func:`shared_epoch`). The folds are stratified by label
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
from autosft.engine.job import Objective
from autosft.errors import ConfigError, DataError
from autosft.evaluate.repeats import take_rows

__all__ = [
    "FOLDS_ATTR", "SMALL_VALIDATION", "concatenated", "cross_validation_folds", "fold_records", "folds_record",
    "mean_result", "record_folds", "shared_epoch", "small_validation_notice",
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


def fold_records(results: Sequence[TrialResult], objectives: Sequence[Objective]) -> list[dict[str, Any]]:
    """Each fold's scores as a trial stores them (:data:`~autosft.attrs.FOLD_SCORES_ATTR`): at the
    epoch the folds so far share (:func:`shared_epoch`), so their mean is the trial's running value;
    ``best_epoch`` is the fold's own."""
    position = shared_epoch(results, objectives)
    return [
        {
            "fold": number,
            "values": [_at(result, position)[objective.metric] for objective in objectives],
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "metrics": json_safe(_metrics_at(result, position)),
            "seconds": round(result.timings.get("total_seconds", 0.0), 3),
        }
        for number, result in enumerate(results, start=1)
    ]


def shared_epoch(results: Sequence[TrialResult], objectives: Sequence[Objective]) -> int:
    """The position, in the folds' learning curves, where their mean primary objective is best.

    Why not each fold's own best epoch: early stopping picks it on the rows the fold is then scored
    on, so a mean of k such picks is as optimistic as one pick on a split of a fifth the size. The
    mean curve is picked once, on all the rows, and a train+val refit trains for that one epoch
    count. A fold that stopped early keeps its last epoch's scores after it: it had stopped improving.
    """
    primary = objectives[0]
    best_value: float | None = None
    best = 0
    for position in range(max(len(result.history) for result in results)):
        value = _mean([_at(result, position)[primary.metric] for result in results])
        if primary.better(value, best_value):
            best_value, best = value, position
    return best


def mean_result(results: Sequence[TrialResult], objectives: Sequence[Objective]) -> TrialResult:
    """One trial's result over its folds: the folds' mean scores at their :func:`shared_epoch`.

    ``best_epoch`` is that epoch (what a train+val refit trains for), ``epochs_run`` and the timings
    are sums (the work done), and ``history`` is the first fold's learning curve: the fold every
    trial ran, pruned ones too, so curves compare across trials.
    """
    first = results[0]
    position = shared_epoch(results, objectives)
    scores = [_metrics_at(result, position) for result in results]
    keys = [key for key in scores[0] if all(key in fold for fold in scores)]
    metrics = {key: _mean([fold[key] for fold in scores]) for key in keys}
    timings = {key: sum(result.timings.get(key, 0.0) for result in results) for key in first.timings}
    notes = list(dict.fromkeys(note for result in results for note in result.notes))
    return TrialResult(
        values=[metrics[objective.metric] for objective in objectives],
        best_epoch=int(_at(max(results, key=lambda result: len(result.history)), position)["epoch"]),
        epochs_run=sum(result.epochs_run for result in results),
        metrics=metrics,
        history=first.history,
        timings=timings,
        trainable_parameters=first.trainable_parameters,
        total_parameters=first.total_parameters,
        stopped_early=any(result.stopped_early for result in results),
        notes=notes,
    )


def _at(result: TrialResult, position: int) -> dict[str, float]:
    """The fold's epoch at ``position`` of its curve, or its last epoch where it stopped before."""
    return result.history[min(position, len(result.history) - 1)]


def _metrics_at(result: TrialResult, position: int) -> dict[str, float]:
    return {key: value for key, value in _at(result, position).items() if key != "epoch"}


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
