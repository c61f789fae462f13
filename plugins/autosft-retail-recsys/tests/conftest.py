"""Fixtures of the plugin's tests: a small synthetic purchase log and the shared data folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from autosft.engine.pretrained import clear_memory_cache

#: ``<repo root>/../shared``: data the team and CI have beside the project (absent in a fresh clone).
SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
RETAIL = SHARED / "data" / "recommender" / "online_retail" / "online_retail_cust20to40pct.csv"


def make_log(users: int = 40, items: int = 30, seed: int = 0) -> pd.DataFrame:
    """Customers in two countries buying 3-6 baskets of 1-4 items each; each country favours its
    own half of the catalogue and customers re-buy, so there is something to learn."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    start = pd.Timestamp("2011-01-01")
    for user in range(users):
        country = "UK" if user % 2 else "FR"
        favourites = np.arange(items // 2) + (0 if country == "UK" else items // 2)
        day = int(rng.integers(0, 30))
        for basket in range(int(rng.integers(3, 7))):
            day += int(rng.integers(1, 20))
            chosen = rng.choice(favourites, size=int(rng.integers(1, 5)), replace=False)
            time = str(start + pd.Timedelta(days=day))
            for item in chosen:
                rows.append({"user": f"u{user:03d}", "item": f"i{item:03d}", "basket": f"{user}-{basket}",
                             "timestamp": time, "quantity": 1, "country": country})  # fmt: skip
    return pd.DataFrame(rows)


def log_options(path: Path, **changes: Any) -> dict[str, Any]:
    """Dataset options for a log written by :func:`make_log`."""
    options: dict[str, Any] = {
        "path": str(path),
        "basket_column": "basket",
        "quantity_column": "quantity",
        "segment_column": "country",
        "target_segments": ["FR"],
        "max_history": 8,
    }
    options.update(changes)
    return options


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
