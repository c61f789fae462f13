"""Fixtures of the plugin's tests: offline Hugging Face, fresh caches, a tiny local BERT checkpoint."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from legal_helpers import clauses, save_tiny_bert, write_table

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("AUTOSFT_TORCH_THREADS", "1")  # for the `autosft` subprocesses


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    """The tiny models' ops take microseconds; on shared cores a second thread only adds waiting."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _fresh_caches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test starts with empty in-process caches and its own disk cache folder."""
    from autosft.engine.cache import clear_caches

    monkeypatch.setenv("AUTOSFT_CACHE_DIR", str(tmp_path / "cache"))
    clear_caches()
    yield
    clear_caches()


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def clauses_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_table(clauses(), tmp_path_factory.mktemp("clauses") / "clauses.csv")
