"""The fraud MLP pre-trained on the same label: the model as is is a reference and a starting trial of
zero epochs, and when fine-tuning does not beat it on validation, it is the model exported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autosft.config import parse_study
from autosft.evaluate.references import REFERENCES_ATTR, fit_references
from autosft.export import export_study
from autosft.plugins import get_plugin_manager
from autosft.search.controller import run_search
from autosft.search.study import AS_IS_ATTR


def _study(tmp_path: Path, **changes: Any) -> dict[str, Any]:
    return {
        "name": "fraud-as-is", "task": "binary", "storage": f"sqlite:///{tmp_path / 'study.db'}", "seed": 0,
        "dataset": {"name": "synthetic_fraud", "options": {"n_rows": 1200, "positive_rate": 0.1,
                                                            "segment_shift": 0.5, "target_segment": "seg_0"}},
        "model": {"name": "tabular_mlp", "options": {"pretrain_epochs": 3, "hidden_sizes": [32, 32]}},
        "objective": {"metric": "pr_auc"}, "budget": {"n_trials": 2, "max_epochs": 2},
        # A rate this high with heavy smoothing wrecks the pre-trained weights: the model as is wins.
        "search_space": {"learning_rate": {"value": 0.03}, "dropout": {"value": 0.5},
                         "label_smoothing": {"value": 0.2}, "imbalance": {"value": "none"}},
        **changes,
    }  # fmt: skip


@pytest.mark.slow  # pre-training, two trials, a final test and an export: about half a minute
def test_the_model_as_is_is_a_trial_the_search_can_select_and_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOSFT_CACHE_DIR", str(tmp_path / "cache"))
    study = _study(tmp_path)
    outcome = run_search(parse_study(study, where="test"), check_data=False)
    as_is, default = outcome.study.trials
    assert as_is.user_attrs[AS_IS_ATTR] is True and AS_IS_ATTR not in default.user_attrs
    assert as_is.user_attrs["plan"]["epochs"] == 0 and [h["epoch"] for h in as_is.user_attrs["history"]] == [0.0]
    # Scored like the reference of the same name: the same untrained model on the same rows.
    record = outcome.study.user_attrs[REFERENCES_ATTR]
    assert as_is.values[0] == pytest.approx(record["validation"]["pretrained_as_is"]["pr_auc"], abs=1e-6)
    assert {"logistic_regression", "hist_gradient_boosting", "class_prior"} <= set(record["validation"])
    assert as_is.values[0] > default.values[0]
    assert outcome.final_test is not None and outcome.final_test["trial"] == as_is.number

    exported = export_study(study["storage"], study["name"], tmp_path / "export", resamples=20)
    assert exported.trial == as_is.number
    probabilities = np.load(tmp_path / "export" / "test_predictions.npz")["probabilities"]
    fitted = fit_references(outcome.prepared, names=["pretrained_as_is"])
    assert np.allclose(probabilities, fitted.predict("pretrained_as_is", "test"), atol=1e-6)
    assert exported.references is not None and exported.references["rows"][0]["name"].endswith("(pre-trained as is)")


def test_no_pre_training_population_means_no_as_is_trial_and_a_skip_reason(tmp_path: Path) -> None:
    options = {"n_rows": 400, "positive_rate": 0.1, "n_segments": 1}
    study = _study(tmp_path, dataset={"name": "synthetic_fraud", "options": options})
    study["budget"] = {"n_trials": 2, "max_epochs": 1}
    outcome = run_search(parse_study(study, where="test"), manager=get_plugin_manager(), final_test=False,
                         check_data=False)  # fmt: skip
    assert not any(trial.user_attrs.get(AS_IS_ATTR) for trial in outcome.study.trials)
    skipped = outcome.study.user_attrs[REFERENCES_ATTR]["skipped"]
    assert skipped["pretrained_as_is"] == (
        "model 'tabular_mlp' has no head pre-trained for this task, so as is it "
        "would guess; the dataset has no pre-training population"
    )
