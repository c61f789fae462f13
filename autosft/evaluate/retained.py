"""Retained performance: how well a fine-tuned model still does on the study's reference dataset.

Fine-tuning on a narrow target can make a model forget what it knew. With a ``reference:`` dataset
(same classes, the model's original domain), two measurements use the same scoring:

- **during the search** (the forgetting guard): after each trial, its model (at its best epoch) is
  scored on at most :data:`MAX_REFERENCE_ROWS` seeded rows of the reference's *validation* split;
  every metric goes into the trial's :data:`~autosft.attrs.EXTRA_METRICS_ATTR` as
  ``retained_<metric>``, and the objective metric's fall from the pre-trained model's score (scored
  once per study, :data:`~autosft.attrs.REFERENCE_BASELINE_ATTR`) as ``reference_drop``, which
  ``reference.max_drop`` bounds (:mod:`autosft.evaluate.constraints`);
- **at export**: the pre-trained and the exported model on the reference's *test* split, which the
  search never saw, so the exported number is not the one trials were selected by.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import torch

from autosft.attrs import REFERENCE_BASELINE_ATTR
from autosft.components import DataSplit
from autosft.contracts import TrialPlan, json_safe
from autosft.engine.data import DeviceSplit, to_device_split
from autosft.engine.device import DeviceSetup
from autosft.engine.loop import predict
from autosft.engine.prepared import PreparedStudy
from autosft.engine.scoring import score
from autosft.errors import ConfigError
from autosft.evaluate.constraints import REFERENCE_DROP, RETAINED_PREFIX
from autosft.evaluate.repeats import take_rows

__all__ = ["MAX_REFERENCE_ROWS", "ForgettingGuard", "forgetting_guard", "retained_performance"]

#: The most reference rows a trial is scored on: enough for a stable score, cheap beside training.
MAX_REFERENCE_ROWS = 2000


def retained_performance(
    prepared: PreparedStudy, module: torch.nn.Module, plan: TrialPlan, setup: DeviceSetup
) -> dict[str, Any]:
    """The export's record: the pre-trained and the fine-tuned ``module`` on the reference's test split."""
    reference = prepared.reference
    assert reference is not None and prepared.config.reference is not None
    rows = to_device_split(reference.test, setup.device)
    base = prepared.build_model(plan).module.to(setup.device)
    scores = {name: _score(prepared, model, rows, reference.test.labels, setup)
              for name, model in (("pretrained", base), ("fine_tuned", module))}  # fmt: skip
    change = {metric: scores["fine_tuned"][metric] - scores["pretrained"][metric] for metric in scores["pretrained"]}
    return {"dataset": prepared.config.reference.name, "test_rows": len(reference.test), **scores, "change": change}


@dataclass
class ForgettingGuard:
    """Scores each trial's model on the capped reference rows, against the pre-trained model's scores."""

    prepared: PreparedStudy
    rows: DeviceSplit
    labels: np.ndarray
    #: The study attribute :data:`REFERENCE_BASELINE_ATTR`: the pre-trained model's scores and what they mean.
    baseline: dict[str, Any]

    def measure(self, module: torch.nn.Module, setup: DeviceSetup) -> dict[str, float | None]:
        """``retained_<metric>`` for every metric, and ``reference_drop`` of the objective metric."""
        scores = _score(self.prepared, module, self.rows, self.labels, setup)
        metric, before = self.baseline["metric"], self.baseline["pretrained"][self.baseline["metric"]]
        after = scores[metric]
        sign = 1.0 if self.baseline["direction"] == "maximize" else -1.0
        drop = sign * (before - after) if before is not None and math.isfinite(after) else math.nan
        retained = {f"{RETAINED_PREFIX}{name}": value for name, value in scores.items()}
        return json_safe({**retained, REFERENCE_DROP: drop})  # NaN (undefined) as None, like the metrics


def forgetting_guard(
    study: optuna.Study, prepared: PreparedStudy, setup: DeviceSetup, *, notice: Callable[[str], None] | None = None
) -> ForgettingGuard | None:
    """The study's guard, ``None`` without a reference or with cross-validated trials (one model per
    fold, none to score; the export still scores the reference). The pre-trained model's reference scores are
    computed once per study and stored in it (every worker compares with the same numbers); a resumed
    study recomputes them only when the reference rows changed. Where the pre-trained model is no
    meaningful baseline (random weights or head), ``notice`` gets one line saying so."""
    reference, config = prepared.reference, prepared.config
    if reference is None or config.reference is None or prepared.folds:
        return None
    if not len(reference.val):
        raise ConfigError(
            f"reference dataset {config.reference.name!r} has no validation rows: the forgetting guard scores "
            "every trial on them"
        )
    split = _capped(reference.val, prepared.config.seed)
    baseline = study.user_attrs.get(REFERENCE_BASELINE_ATTR)
    identity = {"fingerprint": reference.fingerprint, "rows": len(split), "seed": prepared.config.seed,
                "metric": prepared.objective_metrics[0]}  # fmt: skip
    rows = to_device_split(split, setup.device)
    if not isinstance(baseline, dict) or any(baseline.get(key) != value for key, value in identity.items()):
        baseline = _baseline(prepared, rows, split.labels, setup) | identity
        study.set_user_attr(REFERENCE_BASELINE_ATTR, baseline)
    if baseline["note"] and notice is not None:
        notice(baseline["note"])
    return ForgettingGuard(prepared, rows, split.labels, baseline)


def _baseline(prepared: PreparedStudy, rows: DeviceSplit, labels: np.ndarray, setup: DeviceSetup) -> dict[str, Any]:
    """The pre-trained model's scores on the guard's rows, and whether they are a meaningful baseline."""
    config = prepared.config
    assert config.reference is not None
    built = prepared.builder.build(prepared.model_options, prepared.splits, seed=config.seed)
    meaningful = built.pretrained and prepared.builder.head_is_pretrained(prepared.model_options, prepared.splits)
    note = "" if meaningful else (
        f"reference {config.reference.name!r}: the model's {'head' if built.pretrained else 'weights'} start random "
        "for this task, so the pre-trained model's reference score (and reference_drop) compares with a random model"
    )  # fmt: skip
    return {
        "dataset": config.reference.name,
        "split": "val",
        "direction": prepared.directions[0],
        "pretrained": json_safe(_score(prepared, built.module.to(setup.device), rows, labels, setup)),
        "meaningful": meaningful,
        "note": note,
    }


def _capped(split: DataSplit, seed: int) -> DataSplit:
    """At most :data:`MAX_REFERENCE_ROWS` rows of ``split``, drawn with the study's seed, in stored order."""
    if len(split) <= MAX_REFERENCE_ROWS:
        return split
    chosen = np.sort(np.random.default_rng(seed).choice(len(split), MAX_REFERENCE_ROWS, replace=False))
    return take_rows(split, chosen)


def _score(prepared: PreparedStudy, module: torch.nn.Module, rows: DeviceSplit, labels: np.ndarray,
           setup: DeviceSetup) -> dict[str, float]:  # fmt: skip
    return score(prepared.metrics, labels, predict(module, rows, setup, prepared.config.task))
