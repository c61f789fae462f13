"""Fitting a study's references and scoring them on its own splits, validation first, test once.

On validation (:func:`validate_references`) every reference that fits the study's input kind and
task is fitted on the training split and scored with every metric of the study; the record goes
into the study (:data:`REFERENCES_ATTR`), so ``status``, ``best`` and ``report`` read it without
refitting, and a resumed ``autosft search`` keeps it, fitting only the references it lacks. The
test split is read only by :func:`score_on_test`, in the final test or an export, after the
references were refitted exactly like the chosen trial (on train, or on train+val), and once; a
resumed search's final test reuses the test scores the last one stored for the same rows, refitting
only the reference its paired interval needs. A reference that cannot run is skipped with a
one-line reason; one that raises is skipped with its error: references never stop a study.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import numpy as np
from threadpoolctl import threadpool_limits

from autosft.attrs import REFERENCES_ATTR
from autosft.components import DataSplit, Splits
from autosft.contracts import json_safe
from autosft.engine.prepared import PreparedStudy
from autosft.engine.scoring import score
from autosft.evaluate.bootstrap import paired_difference
from autosft.evaluate.refit import RefitMode, with_validation_in_train
from autosft.references.base import Predict, Reference, ReferenceData

__all__ = [
    "REFERENCES_ATTR", "TIME_BUDGET", "FittedReferences", "applicable_references", "fit_references",
    "score_on_test", "validate_references",
]  # fmt: skip

#: Seconds the references of one fitting round may take together; later ones are then skipped.
TIME_BUDGET = 120.0
#: How the skip reason of a reference the time budget left out begins: a resumed search fits it then.
OUT_OF_TIME = "the references' time budget"
#: Resamples of the paired bootstrap of the test difference to the best reference after a search
#: (an export uses its ``--resamples``): 1,000 cost german credit 5 % of its wall time, half as many 2.5 %.
RESAMPLES = 500


@dataclass
class FittedReferences:
    """References fitted on one set of rows (``mode``), ready to predict in this process."""

    mode: RefitMode
    predictors: dict[str, Predict] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    #: Each reference's view of the splits: raw inputs for those that ask for them.
    views: dict[str, Splits] = field(default_factory=dict)
    #: Test scores an earlier final test stored for the same rows, seed and ``mode``, reused by
    #: :func:`score_on_test` instead of refitting (see :func:`validate_references`).
    known_test: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, other: FittedReferences) -> None:
        """Take in references fitted later the same way (``other.mode`` is this one's)."""
        assert other.mode == self.mode
        self.predictors |= other.predictors
        self.seconds |= other.seconds
        self.skipped |= other.skipped
        self.views |= other.views

    def predict(self, name: str, part: str) -> np.ndarray:
        with threadpool_limits(limits=1):
            return self.predictors[name](getattr(self.views[name], part))


def applicable_references(prepared: PreparedStudy) -> list[Reference]:
    """The registered references for the study's task and input kind (others are not listed at all)."""
    splits = prepared.splits
    return [
        reference
        for reference in prepared.registry.references.values()
        if splits.task in reference.task_types
        and (reference.input_kinds is None or splits.input_kind in reference.input_kinds)
    ]


def fit_references(
    prepared: PreparedStudy,
    mode: RefitMode = "train",
    *,
    names: Collection[str] | None = None,
    time_budget: float = TIME_BUDGET,
) -> FittedReferences:
    """Fit every applicable reference (or those in ``names``) on train, or on train+val."""
    fitted = FittedReferences(mode)
    started = time.perf_counter()
    for reference in applicable_references(prepared):
        if names is not None and reference.name not in names:
            continue
        if time.perf_counter() - started > time_budget:
            fitted.skipped[reference.name] = f"{OUT_OF_TIME} ({time_budget:.0f} s) was spent"
            continue
        view = _view(prepared.splits, raw=reference.raw_inputs)
        data = ReferenceData(view, _train_rows(view, mode, reference.max_train_rows, prepared.config.seed),
                             prepared.builder, prepared.model_options, prepared.config.seed)  # fmt: skip
        tick = time.perf_counter()
        reason = reference.skip_reason(data)
        if reason is None:
            try:
                # One BLAS/OpenMP thread: these fits are small, and beside a search's torch threads on
                # shared cores a default pool contends (quickstart: gradient boosting 54 s, not 0.3 s).
                with threadpool_limits(limits=1):
                    fitted.predictors[reference.name] = reference.fit(data)
                fitted.views[reference.name] = view
            except Exception as error:  # a reference never stops the study: its error becomes its reason
                reason = f"failed: {type(error).__name__}: {error}".splitlines()[0]
        if reason is not None:
            fitted.skipped[reference.name] = reason
        fitted.seconds[reference.name] = round(time.perf_counter() - tick, 3)
    return fitted


def validate_references(
    prepared: PreparedStudy,
    *,
    stored: Mapping[str, Any] | None = None,
    stored_test: Mapping[str, Any] | None = None,
    time_budget: float = TIME_BUDGET,
) -> tuple[dict[str, Any], FittedReferences]:
    """Fit on train and score validation: the record stored as :data:`REFERENCES_ATTR`, and the fitted
    references, which a final test in the same process reuses (it refits on train, the same rows).

    ``stored`` is the record the study already holds: when it was measured on the same data and seed,
    its references are kept as they are (scores, skips and seconds) and only the applicable ones it
    lacks, or that its time budget left out, are fitted. ``stored_test`` is the references' entry of
    the study's last final test; on the same data its test scores are reused by the next one.
    """
    identity = _identity(prepared)
    kept = _reusable(stored, prepared, identity)
    missing = [reference.name for reference in applicable_references(prepared)
               if reference.name not in kept["validation"] and reference.name not in kept["skipped"]]  # fmt: skip
    fitted = fit_references(prepared, "train", names=missing, time_budget=time_budget)
    validation = dict(kept["validation"])
    for name in list(fitted.predictors):
        tick = time.perf_counter()
        try:
            validation[name] = json_safe(
                score(prepared.metrics, prepared.splits.val.labels, fitted.predict(name, "val"))
            )
        except Exception as error:
            fitted.skipped[name] = f"failed to predict: {type(error).__name__}: {error}".splitlines()[0]
            del fitted.predictors[name]
        fitted.seconds[name] = round(fitted.seconds[name] + time.perf_counter() - tick, 3)
    if _same_rows(stored_test, identity) and stored_test.get("mode") == fitted.mode:
        fitted.known_test = dict(stored_test.get("references", {}))
    descriptions = {r.name: r.description for r in applicable_references(prepared)}
    skipped = {**kept["skipped"], **fitted.skipped}
    record = {
        "objective": prepared.objective_metrics[0],
        "direction": prepared.directions[0],
        "validation": validation,
        "skipped": skipped,
        "seconds": {**kept["seconds"], **fitted.seconds},
        "descriptions": {name: descriptions.get(name, "") for name in [*validation, *skipped]},
        **identity,
    }
    return record, fitted


def _identity(prepared: PreparedStudy) -> dict[str, Any]:
    """What a stored reference score depends on besides the reference: the rows and the seed."""
    return {"fingerprint": prepared.splits.fingerprint, "seed": prepared.config.seed}


def _reusable(stored: Mapping[str, Any] | None, prepared: PreparedStudy, identity: Mapping[str, Any]) -> dict[str, Any]:
    """What of a stored record holds for this study: all of it on the same data, seed and objective,
    less the references no longer applicable and those the time budget left out; else nothing."""
    if not _same_rows(stored, identity) or stored.get("objective") != prepared.objective_metrics[0]:
        return {"validation": {}, "skipped": {}, "seconds": {}}
    names = {reference.name for reference in applicable_references(prepared)}
    validation = {name: scores for name, scores in stored.get("validation", {}).items() if name in names}
    skipped = {name: reason for name, reason in stored.get("skipped", {}).items()
               if name in names and not reason.startswith(OUT_OF_TIME)}  # fmt: skip
    seconds = {name: value for name, value in stored.get("seconds", {}).items() if name in {*validation, *skipped}}
    return {"validation": validation, "skipped": skipped, "seconds": seconds}


def _same_rows(stored: Any, identity: Mapping[str, Any]) -> TypeGuard[Mapping[str, Any]]:
    """Whether a stored record was measured on the same data (fingerprint) with the same seed."""
    return isinstance(stored, Mapping) and all(stored.get(key) == value for key, value in identity.items())


def score_on_test(
    prepared: PreparedStudy,
    record: dict[str, Any],
    model_probabilities: np.ndarray,
    mode: RefitMode,
    *,
    fitted: FittedReferences | None = None,
    resamples: int = RESAMPLES,
) -> dict[str, Any]:
    """Score on test, once, the references that scored on validation, fitted like the chosen trial
    (``mode``); reuses ``fitted`` when it was fitted the same way, and the test scores it already knows
    (:attr:`FittedReferences.known_test`) for all but the best reference on validation, whose
    predictions the paired bootstrap interval of the model's test difference needs (same resampled rows for both)."""
    started = time.perf_counter()
    names = list(record.get("validation", {}))
    if fitted is None or fitted.mode != mode:
        fitted = FittedReferences(mode)
    best = best_reference(record)
    needed = [
        name for name in names if name not in fitted.predictors and (name not in fitted.known_test or name == best)
    ]
    if needed:
        fitted.add(fit_references(prepared, mode, names=needed))
    labels = prepared.splits.test.labels
    test: dict[str, dict[str, float]] = {}
    predictions: dict[str, np.ndarray] = {}
    for name in names:
        if name in fitted.predictors:
            predictions[name] = fitted.predict(name, "test")
            test[name] = json_safe(score(prepared.metrics, labels, predictions[name]))
        elif name in fitted.known_test and name not in fitted.skipped:
            test[name] = fitted.known_test[name]
    result: dict[str, Any] = {"mode": mode, "references": test, "skipped": {n: fitted.skipped[n] for n in names
                                                                            if n in fitted.skipped}}  # fmt: skip
    best = best_reference(record, among=predictions)
    if best is not None:
        metric = next(m for m in prepared.metrics if m.name == record["objective"])
        # Ordered so that a positive difference always means the model wins, whatever the direction.
        pair = (model_probabilities, predictions[best])
        first, second = pair if record["direction"] == "maximize" else pair[::-1]
        result["best_reference"] = best
        result["difference"] = json_safe(paired_difference(metric, labels, first, second, resamples=resamples,
                                                           seed=prepared.config.seed))  # fmt: skip
    return result | _identity(prepared) | {"seconds": round(time.perf_counter() - started, 3)}


def best_reference(record: dict[str, Any], *, among: Collection[str] | None = None) -> str | None:
    """The reference with the best validation objective (the test never chooses it), or ``None``."""
    objective, maximize = record.get("objective"), record.get("direction") == "maximize"
    scored = [
        (value if maximize else -value, name)
        for name, metrics in record.get("validation", {}).items()
        if (among is None or name in among) and _finite(value := metrics.get(objective))
    ]
    return max(scored)[1] if scored else None


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _view(splits: Splits, *, raw: bool) -> Splits:
    """The splits with the loader's raw inputs back in place of the encoded ones, where asked and kept."""
    if not raw or not splits.raw_inputs:
        return splits
    parts: dict[str, Any] = {
        name: DataSplit(splits.raw_inputs[name], getattr(splits, name).labels)
        for name in ("train", "val", "test")
        if name in splits.raw_inputs
    }
    return dataclasses.replace(splits, **parts)


def _train_rows(splits: Splits, mode: RefitMode, limit: int, seed: int) -> DataSplit:
    """The rows a reference fits on: train or train+val, a seeded sample of ``limit`` rows beyond it."""
    rows = splits.train if mode == "train" else with_validation_in_train(splits).train
    if len(rows) <= limit:
        return rows
    keep = np.sort(np.random.default_rng(seed).choice(len(rows), size=limit, replace=False))
    inputs = rows.inputs
    taken = (
        {key: np.asarray(value)[keep] for key, value in inputs.items()}
        if isinstance(inputs, Mapping)
        else np.asarray(inputs)[keep]
    )
    return DataSplit(taken, rows.labels[keep])
