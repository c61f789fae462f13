"""Fixtures shared by the plugin's tests: small real tables and the shared data folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from autosft_fraud_tabular.synthetic import SyntheticFraudDataset, SyntheticFraudOptions

from autosft.components import Splits

#: ``<repo root>/../shared``: data the team and CI have beside the project (absent in a fresh clone).
SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"


@pytest.fixture
def shared_data() -> Path:
    data = SHARED / "data"
    if not data.is_dir():
        pytest.skip(f"shared data folder {data} is absent (a fresh clone); it is present in CI")
    return data


def make_table(rows: int = 400, seed: int = 0, positive_rate: float = 0.25) -> pd.DataFrame:
    """A small mixed-type table: numbers with NaNs, strings with NaNs, a bool, an ID and a label."""
    rng = np.random.default_rng(seed)
    amount = rng.normal(100.0, 30.0, rows)
    amount[rng.random(rows) < 0.05] = np.nan
    channel = rng.choice(["web", "pos", "atm"], rows).astype(object)
    channel[rng.random(rows) < 0.05] = np.nan
    label = (rng.random(rows) < positive_rate).astype(int)
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "amount": amount,
            "n_items": rng.integers(1, 4, rows),
            "channel": channel,
            "is_foreign": rng.random(rows) < 0.3,
            "label": label,
        }
    )


@pytest.fixture
def table() -> pd.DataFrame:
    return make_table()


@pytest.fixture(name="make_table")
def make_table_fixture() -> Callable[..., pd.DataFrame]:
    """``make_table`` itself, for tests that need other sizes or seeds."""
    return make_table


@pytest.fixture(scope="session")
def fraud_splits() -> Splits:
    """Small synthetic splits with a pretrain population, for model and strategy tests."""
    options = SyntheticFraudOptions(n_rows=1600, n_segments=3, positive_rate=0.1)
    return SyntheticFraudDataset().load(options, task="binary", seed=0)
