"""Temperature scaling of the exported model, fitted on validation only.

Fine-tuned networks are often over-confident: a predicted 0.95 is right less than 95 % of the time.
Temperature scaling (Guo et al., 2017) divides the logits by one scalar ``T`` chosen to minimise the
validation negative log-likelihood. It leaves every argmax decision as it was, and a binary task's
ranking too (ROC-AUC, PR-AUC: the positive probability is a monotone function of the logit gap); only
how confident the probabilities are changes. A multiclass task's one-vs-rest AUC can move slightly,
since dividing by ``T`` can reorder one class's probability across rows.

The fit sees the validation split only. The test split's ECE before and after is measured once, at
export, beside the test metrics. Binary and multiclass tasks are calibrated; multilabel (a sigmoid
per label) and ranking tasks are not, and the record says why, as it does for a ``train+val`` refit,
which trained on the validation rows and so leaves none to fit on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from autosft.components import Metric
from autosft.engine.data import to_device_split
from autosft.engine.device import DeviceSetup
from autosft.engine.loop import predict_logits, probabilities
from autosft.engine.prepared import PreparedStudy
from autosft.engine.scoring import ECE_BINS, expected_calibration_error, score
from autosft.evaluate.refit import Refit

__all__ = ["CALIBRATED_TASKS", "TEMPERATURE_BOUNDS", "Calibration", "calibrate", "fit_temperature"]

#: Tasks whose probabilities are one softmax over classes: the ones a single temperature calibrates.
CALIBRATED_TASKS = ("binary", "multiclass")
#: The temperatures searched: beyond them a model is so far off that one scalar is not the fix.
TEMPERATURE_BOUNDS = (0.05, 20.0)
METHOD = "temperature_scaling"


@dataclass
class Calibration:
    """The export's calibration: its temperature (1 when skipped), its record and the test probabilities
    of the model as exported (calibrated when ``applied``)."""

    temperature: float
    record: dict[str, Any]
    test_probabilities: np.ndarray

    @property
    def applied(self) -> bool:
        return self.record.get("skipped") is None


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The ``T`` within :data:`TEMPERATURE_BOUNDS` that minimises the mean NLL of ``softmax(logits / T)``.

    The NLL is convex in ``1 / T``, so a bounded one-dimensional search over ``log T`` (Brent's
    method) finds its one minimum; no learning rate or iteration count to tune. ``T = 1`` (the model
    as trained) is kept unless the fit beats it.
    """
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    values = np.asarray(logits, dtype=np.float64)
    rows = np.arange(len(values)), np.asarray(labels).astype(np.int64).ravel()

    def nll(log_temperature: float) -> float:
        return float(-log_softmax(values / np.exp(log_temperature), axis=1)[rows].mean())

    found = minimize_scalar(nll, bounds=tuple(np.log(TEMPERATURE_BOUNDS)), method="bounded",
                            options={"xatol": 1e-6})  # fmt: skip
    return float(np.exp(found.x)) if found.fun < nll(0.0) else 1.0


def calibrate(prepared: PreparedStudy, refitted: Refit, device: DeviceSetup, *, enabled: bool = True) -> Calibration:
    """Fit the temperature of ``refitted`` on validation and record ECE, NLL and every metric before and
    after, on validation and on test; a task or refit it does not apply to, or ``enabled=False``, is
    recorded as skipped, with the reason."""
    splits, task = prepared.splits, prepared.splits.task
    reason = "turned off (--no-calibrate)" if not enabled else _skip_reason(task, refitted, len(splits.val))
    if reason is not None:
        return Calibration(1.0, {"method": METHOD, "temperature": None, "skipped": reason}, refitted.test_probabilities)
    val_logits = predict_logits(refitted.module, to_device_split(splits.val, device.device), device)
    temperature = fit_temperature(val_logits.numpy(), splits.val.labels)
    test_probabilities = probabilities(refitted.test_logits, task, temperature=temperature)
    val_before, val_after = (probabilities(val_logits, task, temperature=value) for value in (1.0, temperature))
    record: dict[str, Any] = {
        "method": METHOD,
        "temperature": temperature,
        "fitted_on": "validation",
        "ece_bins": ECE_BINS,
        "skipped": None,
        "validation": _before_after(prepared.metrics, splits.val.labels, val_before, val_after),
        "test": _before_after(prepared.metrics, splits.test.labels, refitted.test_probabilities, test_probabilities),
    }
    return Calibration(temperature, record, test_probabilities)


def _skip_reason(task: str, refitted: Refit, validation_rows: int) -> str | None:
    if task not in CALIBRATED_TASKS:
        return f"a {task} task: one temperature calibrates a softmax over classes (binary, multiclass tasks)"
    if refitted.mode == "train+val":
        return "the train+val refit trained on the validation rows, which leaves none to fit a temperature on"
    if validation_rows == 0:
        return "the validation split is empty"
    return None


def _before_after(metrics: list[Metric], labels: np.ndarray, before: np.ndarray, after: np.ndarray) -> dict[str, Any]:
    """ECE, NLL and each metric of the uncalibrated and the calibrated probabilities on one split."""

    def pair(measure: Callable[[np.ndarray, np.ndarray], Any]) -> dict[str, Any]:
        return {"before": measure(labels, before), "after": measure(labels, after)}

    scores = pair(partial(score, metrics))
    return {
        "rows": len(labels),
        "ece": pair(expected_calibration_error),
        "nll": pair(_log_loss),
        "metrics": {name: {when: scores[when][name] for when in scores} for name in scores["before"]},
    }


def _log_loss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class: what the temperature minimises on validation."""
    from sklearn.metrics import log_loss

    return float(log_loss(labels, probabilities, labels=np.arange(probabilities.shape[1])))
