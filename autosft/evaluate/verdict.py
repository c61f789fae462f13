"""The verdict: the chosen model against every reference on validation and test, in one table and one line.

Built from what the study stores (the references' validation record, :data:`REFERENCES_ATTR`, and
the final test's ``references`` entry) or what an export measured, so ``best``, ``status``, the
report and the run card say the same thing without refitting anything. The best reference is the
one best on validation: choosing it by test would flatter it, exactly as it would a trial.
"""

from __future__ import annotations

import math
from typing import Any

import optuna

from autosft.attrs import AS_IS_ATTR, FINAL_TEST_ATTR, FOLD_SCORES_ATTR, REFERENCES_ATTR
from autosft.evaluate.constraints import is_feasible
from autosft.evaluate.holdout import selected_trial
from autosft.evaluate.references import best_reference
from autosft.evaluate.selection import rerun_tag

__all__ = ["best_trial_value", "study_verdict", "summarize", "validation_score"]


def summarize(
    record: dict[str, Any],
    test: dict[str, Any] | None,
    *,
    trial: optuna.trial.FrozenTrial,
    model_test: dict[str, Any] | None,
    best_trial_value: float | None,
) -> dict[str, Any]:
    """The table rows, the best reference and the verdict line, as JSON-ready data.

    ``record`` is the validation record, ``test`` the references' test comparison (or ``None``
    before any test), ``model_test`` the chosen model's test metrics, ``best_trial_value`` the best
    validation objective of any trial the search proposed.
    """
    objective = record["objective"]
    test_scores = (test or {}).get("references", {})
    as_is = bool(trial.user_attrs.get(AS_IS_ATTR))
    rows = [{"name": f"trial {trial.number}" + (" (pre-trained as is)" if as_is else " (selected)"),
             "validation": validation_score(trial, objective),
             "test": (model_test or {}).get(objective), "note": _folds_note(trial)}]  # fmt: skip
    for name, metrics in record.get("validation", {}).items():
        rows.append({"name": name, "validation": metrics.get(objective),
                     "test": test_scores.get(name, {}).get(objective), "note": ""})  # fmt: skip
    skipped = {**record.get("skipped", {}), **(test or {}).get("skipped", {})}
    for name, reason in skipped.items():
        if name not in record.get("validation", {}):
            rows.append({"name": name, "validation": None, "test": None, "note": f"skipped: {reason}"})
    best = best_reference(record)
    summary = {"objective": objective, "direction": record["direction"], "rows": rows, "best_reference": best,
               "difference": (test or {}).get("difference"), "skipped": skipped}  # fmt: skip
    summary["verdict"] = _line(summary, record, as_is=as_is, trial=trial, best_trial_value=best_trial_value)
    return summary


def _folds_note(trial: optuna.trial.FrozenTrial) -> str:
    """With cross-validation the trial's validation score is a mean over folds, while the references
    were fitted on train and scored on the validation split: the note says so, as the numbers differ in kind."""
    folds = trial.user_attrs.get(FOLD_SCORES_ATTR)
    if not isinstance(folds, list) or not folds:
        return ""
    return f"validation: mean of {len(folds)} folds; references: the validation split"


def _line(
    summary: dict[str, Any],
    record: dict[str, Any],
    *,
    as_is: bool,
    trial: optuna.trial.FrozenTrial,
    best_trial_value: float | None,
) -> str:
    best, objective = summary["best_reference"], summary["objective"]
    if best is None:
        return "no reference could be scored on this study"
    reference_value = record["validation"][best][objective]
    maximize = record["direction"] == "maximize"
    difference = summary["difference"]
    gap = None
    if difference is not None and _finite(difference.get("value")):
        gap = f"{difference['value']:+.4f} [{difference['low']:+.4f}, {difference['high']:+.4f}] test {objective}"
    if best_trial_value is not None and (reference_value > best_trial_value if maximize
                                         else reference_value < best_trial_value):  # fmt: skip
        line = (f"a reference is better on validation than every trial: {best} {objective} {reference_value:.4f} "
                f"vs the best trial's {best_trial_value:.4f}")  # fmt: skip
        return line if gap is None else f"{line}; the selected model's test difference to it: {gap}"
    who = f"the pre-trained model as is (trial {trial.number})" if as_is else "fine-tuned model"
    if gap is None:
        return f"{who} leads the best reference ({best}) on validation: no test yet"
    if difference["low"] > 0:
        return f"{who} beats the best reference ({best}) by {gap}"
    if difference["high"] < 0:
        return f"the best reference ({best}) beats the {who.removeprefix('the ')}: {gap}"
    return f"{who} and the best reference ({best}) are within noise: {gap}"


def study_verdict(study: optuna.Study) -> dict[str, Any] | None:
    """The verdict from what ``study`` stores, or ``None`` when it holds no reference record or no complete trial."""
    record = study.user_attrs.get(REFERENCES_ATTR)
    if not isinstance(record, dict):
        return None
    try:
        trial = selected_trial(study)
    except Exception:  # no complete trial yet: nothing to compare
        return None
    final = study.user_attrs.get(FINAL_TEST_ATTR)
    final = final if isinstance(final, dict) and final.get("trial") == trial.number else None
    return summarize(record, None if final is None else final.get("references"), trial=trial,
                     model_test=None if final is None else final.get("test_metrics"),
                     best_trial_value=best_trial_value(study, record["objective"]))  # fmt: skip


def best_trial_value(study: optuna.Study, metric: str) -> float | None:
    """The best validation ``metric`` among complete, feasible trials the search proposed (not seed re-runs)."""
    maximize = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    scores = [validation_score(t, metric) for t in study.get_trials(deepcopy=False, states=(
              optuna.trial.TrialState.COMPLETE,)) if rerun_tag(t) is None and is_feasible(t)]  # fmt: skip
    values = [value for value in scores if value is not None and math.isfinite(value)]
    if not values:
        return None
    return max(values) if maximize else min(values)


def validation_score(trial: optuna.trial.FrozenTrial, metric: str) -> float | None:
    """The trial's validation ``metric`` (the references' objective): its first value, unless the objective
    is another statistic of the metric (its worst slice), whose overall score the trial's metrics hold."""
    value = trial.values[0] if trial.values else None
    stored = trial.user_attrs.get("metrics", {}).get(metric)
    if isinstance(stored, int | float) and (value is None or abs(value - stored) > 1e-6):  # stored: 6 decimals
        return float(stored)
    return value


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
