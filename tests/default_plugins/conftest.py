"""Fixtures of the built-in components' tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def only_autosft(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No installed plugin, and a cache folder of the test's own."""
    monkeypatch.setenv("AUTOSFT_DISABLE_PLUGINS", "*")
    monkeypatch.setenv("AUTOSFT_CACHE_DIR", str(tmp_path / "cache"))
