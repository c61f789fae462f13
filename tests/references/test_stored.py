"""References are stored in the study: a resumed `autosft search` keeps them and fits only what is missing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np

from autosft import hookimpl
from autosft.attrs import FINAL_TEST_ATTR, REFERENCES_ATTR
from autosft.config import parse_study
from autosft.evaluate.references import OUT_OF_TIME, score_on_test, validate_references
from autosft.references import Predict, Reference, ReferenceData
from autosft.search.controller import SearchOutcome, run_search
from autosft.search.prepare import prepare_study
from autosft.testing import toy_manager, toy_study


class Counting(Reference):
    """A constant predictor that counts its fits (never the best reference on the toy blobs)."""

    name: ClassVar[str] = "counting"
    fits: ClassVar[list[int]] = []

    def fit(self, data: ReferenceData) -> Predict:
        Counting.fits.append(len(data.train))
        return lambda split: np.full((len(split), 2), 0.5)


class CountingPlugin:
    @hookimpl
    def autosft_register_references(self, register: Callable[[Reference], None]) -> None:
        register(Counting())


def _search(tmp_path: Path, *plugins: object, seed: int = 0) -> SearchOutcome:
    raw = toy_study(f"sqlite:///{tmp_path / 'study.db'}", budget={"n_trials": 1, "max_epochs": 1}, seed=seed)
    return run_search(parse_study(raw, where="test"), manager=toy_manager(*plugins), check_data=False)


def test_a_second_search_neither_refits_nor_rescores_the_references(tmp_path: Path) -> None:
    Counting.fits.clear()
    first = _search(tmp_path, CountingPlugin())
    stored = first.study.user_attrs[REFERENCES_ATTR]
    assert Counting.fits == [len(first.prepared.splits.train)]  # once: the final test reused the fit
    assert {"counting", "logistic_regression", "hist_gradient_boosting"} <= set(stored["validation"])

    second = _search(tmp_path, CountingPlugin())
    assert Counting.fits == [len(first.prepared.splits.train)]  # not refitted, for validation or test
    assert second.study.user_attrs[REFERENCES_ATTR] == stored  # the same scores and fit times
    first_test = first.study.user_attrs[FINAL_TEST_ATTR]["references"]
    second_test = second.study.user_attrs[FINAL_TEST_ATTR]["references"]
    assert second_test["references"] == first_test["references"]
    assert second_test["best_reference"] == first_test["best_reference"]


def test_a_stored_record_fits_only_the_references_it_lacks(tmp_path: Path) -> None:
    prepared = prepare_study(parse_study(toy_study(f"sqlite:///{tmp_path / 'a.db'}"), where="test"),
                             toy_manager(CountingPlugin()))  # fmt: skip
    record, _ = validate_references(prepared)
    lacking = {**record, "validation": {k: v for k, v in record["validation"].items() if k != "counting"}}
    Counting.fits.clear()
    again, fitted = validate_references(prepared, stored=lacking)
    assert list(fitted.predictors) == ["counting"] and len(Counting.fits) == 1
    assert again["validation"] == record["validation"]


def test_other_data_or_seed_refits_and_a_time_budget_skip_is_fitted_later(tmp_path: Path) -> None:
    prepared = prepare_study(parse_study(toy_study(f"sqlite:///{tmp_path / 'a.db'}"), where="test"), toy_manager())
    record, _ = validate_references(prepared, time_budget=-1.0)
    assert all(reason.startswith(OUT_OF_TIME) for reason in record["skipped"].values())
    later, fitted = validate_references(prepared, stored=record)
    assert "logistic_regression" in later["validation"] and "logistic_regression" in fitted.predictors
    kept, fitted = validate_references(prepared, stored=later)
    assert kept == later and not fitted.predictors
    for change in ({"fingerprint": "other data"}, {"seed": 1}):
        _, fitted = validate_references(prepared, stored=later | change)
        assert "logistic_regression" in fitted.predictors


def test_the_final_test_refits_only_the_best_reference_when_test_scores_are_known(tmp_path: Path) -> None:
    prepared = prepare_study(parse_study(toy_study(f"sqlite:///{tmp_path / 'a.db'}"), where="test"),
                             toy_manager(CountingPlugin()))  # fmt: skip
    record, fitted = validate_references(prepared)
    model = np.tile([0.5, 0.5], (len(prepared.splits.test), 1))
    first = score_on_test(prepared, record, model, "train", fitted=fitted, resamples=20)
    Counting.fits.clear()
    _, reused = validate_references(prepared, stored=record, stored_test=first)
    again = score_on_test(prepared, record, model, "train", fitted=reused, resamples=20)
    assert Counting.fits == [] and list(reused.predictors) == [first["best_reference"]]
    assert again["references"] == first["references"] and again["difference"] == first["difference"]
    # A test on other rows (train+val, as an export refits) never takes the known scores.
    refit = score_on_test(prepared, record, model, "train+val", fitted=reused, resamples=20)
    assert Counting.fits == [len(prepared.splits.train) + len(prepared.splits.val)]
    assert refit["mode"] == "train+val"
