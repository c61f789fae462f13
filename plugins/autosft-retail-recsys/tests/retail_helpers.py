"""Helpers of the plugin's tests: a small synthetic purchase log and dataset options for it.

A module of its own, not ``conftest.py``: test modules import it, and ``conftest`` is a name every
test folder of the repository has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["log_options", "make_log"]


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
