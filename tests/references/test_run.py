"""References on real tiny data: fitted on train, scored on validation with every metric of the
study, on test only when asked; skipped with one line where they cannot run, never a crash."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from autosft import hookimpl
from autosft.components import DataSplit
from autosft.config import parse_study
from autosft.engine.scoring import score
from autosft.evaluate.references import fit_references, score_on_test, validate_references
from autosft.references import Predict, Reference, ReferenceData
from autosft.search.prepare import PreparedStudy, prepare_study
from autosft.testing import toy_manager, toy_study
from tests.conftest import run_toy_cli


class Exploding(Reference):
    name: ClassVar[str] = "exploding"

    def fit(self, data: ReferenceData) -> Predict:
        raise RuntimeError("cannot fit\nsecond line")


class SplitReader(Reference):
    """Remembers which rows it was fitted on and which splits it predicted."""

    name: ClassVar[str] = "split_reader"
    fitted_rows: ClassVar[list[int]] = []
    predicted: ClassVar[list[int]] = []

    def fit(self, data: ReferenceData) -> Predict:
        SplitReader.fitted_rows.append(len(data.train))

        def predict(split: DataSplit) -> np.ndarray:
            SplitReader.predicted.append(len(split))
            return np.full((len(split), data.splits.num_classes), 1.0 / data.splits.num_classes)

        return predict


class ReferencePlugin:
    @hookimpl
    def autosft_register_references(self, register: Callable[[Reference], None]) -> None:
        register(Exploding())
        register(SplitReader())


def _prepared(tmp_path: Path, **dataset: Any) -> PreparedStudy:
    raw = toy_study(f"sqlite:///{tmp_path / 'study.db'}")
    raw["dataset"]["options"].update(dataset)
    return prepare_study(parse_study(raw, where="test"), toy_manager(ReferencePlugin()))


def test_tabular_references_are_scored_on_validation_with_every_metric(tmp_path: Path) -> None:
    prepared = _prepared(tmp_path, rows=400)
    record, fitted = validate_references(prepared)
    validation = record["validation"]
    assert {"class_prior", "logistic_regression", "hist_gradient_boosting"} <= set(validation)
    assert set(validation["logistic_regression"]) == {metric.name for metric in prepared.metrics}
    assert validation["class_prior"]["roc_auc"] == 0.5  # the same probabilities for every row
    assert validation["logistic_regression"]["roc_auc"] > 0.9  # separable blobs
    expected = score(prepared.metrics, prepared.splits.val.labels, fitted.predict("hist_gradient_boosting", "val"))
    assert validation["hist_gradient_boosting"]["accuracy"] == pytest.approx(expected["accuracy"])
    # Not for this model (no pre-trained head), and one that raises: one line each, the rest still scored.
    assert record["skipped"]["pretrained_as_is"] == (
        f"model {prepared.builder.name!r} has no head pre-trained for this task, so as is it would guess; "
        "the dataset has no pre-training population"
    )
    assert record["skipped"]["exploding"] == "failed: RuntimeError: cannot fit"
    assert json.loads(json.dumps(record)) == record  # stored as a study user attribute


def test_validation_never_reads_the_test_split_and_test_refits_like_the_trial(tmp_path: Path) -> None:
    prepared = _prepared(tmp_path, rows=400)
    splits = prepared.splits
    SplitReader.fitted_rows.clear()
    SplitReader.predicted.clear()
    record, _ = validate_references(prepared)
    assert SplitReader.fitted_rows == [len(splits.train)]
    assert SplitReader.predicted == [len(splits.val)]
    model = np.tile([0.5, 0.5], (len(splits.test), 1))
    result = score_on_test(prepared, record, model, "train+val")
    assert SplitReader.fitted_rows[-1] == len(splits.train) + len(splits.val)  # refitted on train+val
    assert SplitReader.predicted[-1] == len(splits.test)
    assert result["mode"] == "train+val" and "exploding" not in result["references"]
    # The best reference on validation, against which a constant model loses on test for sure.
    assert result["best_reference"] == "logistic_regression"
    low, high = result["difference"]["low"], result["difference"]["high"]
    assert low <= result["difference"]["value"] <= high < 0


def test_on_skewed_classes_the_references_weight_them_as_the_first_trial_does(tmp_path: Path) -> None:
    # 8 % positives on overlapping blobs: unweighted, a logistic regression's argmax rarely says
    # "positive", and its F1 would flatter any model compared with it. Weighted, it predicts the rare
    # class about as often as it occurs (or more), and its F1 rises.
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    prepared = _prepared(tmp_path, rows=1500, positive_rate=0.08, separation=0.6)
    train, val = prepared.splits.train, prepared.splits.val
    fitted = fit_references(prepared, names=["logistic_regression"])
    weighted = fitted.predict("logistic_regression", "val").argmax(axis=1)
    unweighted = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(train.inputs, train.labels)
    plain = unweighted.predict(val.inputs)
    assert weighted.mean() > 2 * plain.mean()
    assert f1_score(val.labels, weighted) > f1_score(val.labels, plain)


def test_one_class_in_train_skips_the_classifiers_with_a_reason(tmp_path: Path) -> None:
    prepared = _prepared(tmp_path, rows=30, positive_rate=0.001)
    assert len(np.unique(prepared.splits.train.labels)) == 1
    record, _ = validate_references(prepared)
    assert record["skipped"]["logistic_regression"] == "the training rows hold a single class"
    assert record["skipped"]["hist_gradient_boosting"] == "the training rows hold a single class"
    assert "class_prior" in record["validation"]


def test_a_spent_time_budget_skips_the_remaining_references(tmp_path: Path) -> None:
    prepared = _prepared(tmp_path)
    fitted = fit_references(prepared, time_budget=-1.0)
    assert not fitted.predictors
    assert set(fitted.skipped.values()) == {"the references' time budget (-1 s) was spent"}


def test_search_ends_with_the_verdict_and_best_json_holds_it(tmp_path: Path) -> None:
    study = tmp_path / "study.json"
    study.write_text(
        json.dumps(toy_study(f"sqlite:///{tmp_path / 'study.db'}", budget={"n_trials": 2, "max_epochs": 2}))
    )
    searched = run_toy_cli("search", str(study), cwd=tmp_path)
    assert searched.returncode == 0, searched.stderr
    assert "the chosen model vs the references" in searched.stdout
    best = run_toy_cli("best", "--study", str(study), "--json", cwd=tmp_path)
    assert best.returncode == 0, best.stderr
    references = json.loads(best.stdout)["references"]
    assert " ".join(references["verdict"].split()) in " ".join(searched.stdout.split())
    rows = {row["name"]: row for row in references["rows"]}
    assert {"class_prior", "logistic_regression", "hist_gradient_boosting"} <= set(rows)
    for name in ("logistic_regression", "hist_gradient_boosting"):
        assert f"{rows[name]['test']:.4f}" in searched.stdout
        assert not math.isnan(rows[name]["validation"])
    difference = references["difference"]
    assert difference["low"] <= difference["value"] <= difference["high"]
    status = run_toy_cli("status", "--study", str(study), cwd=tmp_path)
    assert "the chosen model vs the references" in status.stdout
