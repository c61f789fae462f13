"""Fixtures of the plugin's tests: a small synthetic purchase log, the shared data file, and an
isolated weights cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from retail_helpers import make_log

from autosft.engine.pretrained import clear_memory_cache

#: ``<repo root>/../shared``: data the team and CI have beside the project (absent in a fresh clone).
SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
RETAIL = SHARED / "data" / "recommender" / "online_retail" / "online_retail_cust20to40pct.csv"


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "log.csv"
    make_log().to_csv(path, index=False)
    return path


@pytest.fixture
def retail_file() -> Path:
    if not RETAIL.is_file():
        pytest.skip(f"shared data file {RETAIL} is absent (a fresh clone); it is present in CI")
    return RETAIL


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pre-trained weights go to the test's folder, and no test sees another's from memory."""
    monkeypatch.setenv("AUTOSFT_CACHE_DIR", str(tmp_path / "cache"))
    clear_memory_cache()
