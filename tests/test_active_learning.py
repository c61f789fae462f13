"""benchmarks/active_learning.py on a reduced setting: every strategy starts from the same labelled
rows, labels its own next rows, and the table prints one curve per strategy and the verdict."""

from __future__ import annotations

import pytest

from tests.conftest import REPO, SHARED, load_benchmark


def test_the_benchmark_compares_every_strategy_from_the_same_start(monkeypatch: pytest.MonkeyPatch) -> None:
    if not (SHARED / "data" / "finance" / "german_credit").is_dir():
        pytest.skip("../shared/data/finance/german_credit is absent (a fresh clone without ../shared)")
    monkeypatch.chdir(REPO)  # the study reads ../shared by a path relative to the repository
    bench = load_benchmark("active_learning")
    setting = bench.Setting(seeds=1, rounds=1, max_epochs=2)
    curves = bench.run(setting)
    assert list(curves) == ["random", "margin", "entropy", "diverse"]
    starts = {runs[0][0] for runs in curves.values()}
    assert len(starts) == 1  # the same start rows and seed: the same first model
    assert all(len(runs) == 1 and len(runs[0]) == 2 and all(0 < s < 1 for s in runs[0]) for runs in curves.values())
    lines = bench.table(curves, setting)
    assert lines[0].split("|")[1].strip() == "10 %" and lines[0].split("|")[2].strip() == "15 %"
    assert [line.split("|")[0].strip() for line in lines[1:5]] == list(curves)
    assert lines[5].startswith("margin ") and lines[6].startswith("diverse ") and "random on average" in lines[6]
