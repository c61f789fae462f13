"""Every study file shipped in studies/ parses and names only installed components with valid options,
and the benchmark of references covers each of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from autosft.config import load_study_file
from autosft.plugins import get_plugin_manager
from autosft.registry import collect_registry
from autosft.search.prepare import check_components
from tests.conftest import REPO, SHARED, load_benchmark

STUDIES = sorted((REPO / "studies").glob("*.yaml"))


@pytest.mark.parametrize("path", STUDIES, ids=[path.stem for path in STUDIES])
def test_shipped_study_is_valid(path: Path) -> None:
    config = load_study_file(path)
    check_components(config, collect_registry(get_plugin_manager()))  # what `autosft validate` checks first
    assert config.storage == "sqlite:///autosft.db"


def test_the_references_benchmark_has_a_study_for_every_shared_dataset() -> None:
    datasets = load_benchmark("references").DATASETS
    assert len(datasets) == 6
    assert {REPO / "studies" / name for name in datasets.values()} <= set(STUDIES)


@pytest.mark.slow
def test_the_benchmark_prints_the_test_scores_the_search_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """German credit, one trial: each reference's benchmarked test score is the final test's (the
    benchmark asserts it), and the model's retrain reproduces the stored test score."""
    if not (SHARED / "data" / "finance" / "german_credit").is_dir():
        pytest.skip("../shared/data/finance/german_credit is absent (a fresh clone without ../shared)")
    monkeypatch.chdir(REPO)  # the study reads ../shared by a path relative to the repository
    row = load_benchmark("references").run_one("german-credit", 0, 1, str(tmp_path), resamples=20)
    assert {"class_prior", "logistic_regression", "hist_gradient_boosting"} <= set(row.references)
    assert row.model_matches_final_test
    assert row.verdict.startswith(("fine-tuned model", "the best reference", "a reference is better"))
    assert 0 < row.reference_seconds < row.seconds
