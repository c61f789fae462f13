"""The toy study every engine test trains on, prepared once per module."""

from __future__ import annotations

import pytest

from autosft.config import parse_study
from autosft.search.prepare import PreparedStudy, prepare_study
from autosft.testing import toy_manager, toy_study


@pytest.fixture(scope="module")
def prepared() -> PreparedStudy:
    return prepare_study(parse_study(toy_study("sqlite:///unused.db"), where="s"), toy_manager())
