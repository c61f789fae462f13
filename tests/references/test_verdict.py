"""The verdict line in each of its cases, from stored records alone, and the paired bootstrap behind it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

from autosft.components import Metric
from autosft.default_plugins.metrics import _roc_auc
from autosft.evaluate.bootstrap import bootstrap_intervals, paired_difference
from autosft.evaluate.verdict import summarize

ROC_AUC = Metric("roc_auc", "maximize", _roc_auc, frozenset({"binary"}))


def _trial(value: float, **attrs: Any) -> optuna.trial.FrozenTrial:
    trial = optuna.trial.create_trial(value=value, user_attrs=attrs)
    trial.number = 0
    return trial


def _record(**validation: float) -> dict[str, Any]:
    return {"objective": "roc_auc", "direction": "maximize", "skipped": {"pixels": "no images"},
            "validation": {name: {"roc_auc": value} for name, value in validation.items()},
            "descriptions": {}}  # fmt: skip


def _test(value: float, low: float, high: float) -> dict[str, Any]:
    return {"references": {"gbt": {"roc_auc": 0.70}, "prior": {"roc_auc": 0.5}}, "best_reference": "gbt",
            "difference": {"value": value, "low": low, "high": high, "resamples": 1000}}  # fmt: skip


@pytest.mark.parametrize(
    ("trial_value", "test", "line"),
    [
        (0.80, _test(0.021, 0.010, 0.033),
         "fine-tuned model beats the best reference (gbt) by +0.0210 [+0.0100, +0.0330] test roc_auc"),
        (0.80, _test(-0.02, -0.03, -0.01),
         "the best reference (gbt) beats the fine-tuned model: -0.0200 [-0.0300, -0.0100] test roc_auc"),
        (0.80, _test(0.01, -0.01, 0.03),
         "fine-tuned model and the best reference (gbt) are within noise: +0.0100 [-0.0100, +0.0300] test roc_auc"),
        (0.80, None, "fine-tuned model leads the best reference (gbt) on validation: no test yet"),
        (0.70, _test(0.01, -0.01, 0.03),
         "a reference is better on validation than every trial: gbt roc_auc 0.7500 vs the best trial's 0.7000; "
         "the selected model's test difference to it: +0.0100 [-0.0100, +0.0300] test roc_auc"),
    ],
)  # fmt: skip
def test_the_line_says_who_wins_on_test_and_whether_it_is_noise(trial_value: float, test: Any, line: str) -> None:
    trial = _trial(trial_value)
    summary = summarize(_record(gbt=0.75, prior=0.5), test, trial=trial, model_test={"roc_auc": 0.72},
                        best_trial_value=trial_value)  # fmt: skip
    assert summary["verdict"] == line
    assert summary["best_reference"] == "gbt"  # chosen by validation, never by test
    names = [row["name"] for row in summary["rows"]]
    assert names == ["trial 0 (selected)", "gbt", "prior", "pixels"]
    assert summary["rows"][-1]["note"] == "skipped: no images"


def test_the_model_as_is_is_named_when_it_is_the_selected_trial() -> None:
    trial = _trial(0.80, autosft_as_is=True)
    summary = summarize(_record(gbt=0.75), _test(0.021, 0.010, 0.033), trial=trial, model_test={"roc_auc": 0.72},
                        best_trial_value=0.80)  # fmt: skip
    assert summary["rows"][0]["name"] == "trial 0 (pre-trained as is)"
    assert summary["verdict"].startswith("the pre-trained model as is (trial 0) beats the best reference (gbt)")


def test_paired_difference_is_zero_for_the_same_predictions_and_narrower_than_unpaired() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    signal = labels + rng.normal(0, 1.0, 300)
    first = np.column_stack([-signal, signal])
    second = first + np.column_stack([np.zeros(300), rng.normal(0, 0.2, 300)])  # a slightly noisier copy
    same = paired_difference(ROC_AUC, labels, first, first, resamples=200)
    assert same["value"] == same["low"] == same["high"] == 0.0
    paired = paired_difference(ROC_AUC, labels, first, second, resamples=200)
    separate = [bootstrap_intervals([ROC_AUC], labels, p, resamples=200)["roc_auc"] for p in (first, second)]
    assert paired["low"] <= paired["value"] <= paired["high"]
    # Errors on the same rows cancel: the paired interval is far narrower than either model's own.
    assert paired["high"] - paired["low"] < 0.5 * min(s["high"] - s["low"] for s in separate)


def test_the_record_is_read_from_the_study(tmp_path: Path) -> None:
    from autosft.evaluate.references import REFERENCES_ATTR
    from autosft.evaluate.verdict import study_verdict

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", direction="maximize")
    assert study_verdict(study) is None
    study.set_user_attr(REFERENCES_ATTR, _record(gbt=0.75))
    assert study_verdict(study) is None  # no complete trial yet
    study.add_trial(optuna.trial.create_trial(value=0.8))
    summary = study_verdict(study)
    assert summary is not None and summary["verdict"].endswith("no test yet")
