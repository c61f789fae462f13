"""The pre-trained weights cache: trained once, then served from memory, then from the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from autosft.engine.pretrained import cache_file, cache_root, clear_memory_cache, pretrained_state, state_key


class _Trainer:
    """Counts how often the cache had to train."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, torch.Tensor]:
        self.calls += 1
        return {"weight": torch.full((2, 2), float(self.calls))}


@pytest.fixture(autouse=True)
def _fresh_memory() -> None:
    clear_memory_cache()


def test_weights_are_trained_once_then_read_from_memory_and_file(tmp_path: Path) -> None:
    trainer = _Trainer()
    key = state_key(data="abc", seed=0)
    first = pretrained_state("demo", key, trainer, cache_dir=tmp_path)
    assert pretrained_state("demo", key, trainer, cache_dir=tmp_path) is first  # memory
    clear_memory_cache()  # as a fresh worker process starts
    again = pretrained_state("demo", key, trainer, cache_dir=tmp_path)
    assert trainer.calls == 1 and torch.equal(again["weight"], first["weight"])
    assert cache_file("demo", key, cache_dir=tmp_path).is_file()
    assert not list((tmp_path / "demo").glob("*.tmp"))


def test_a_corrupt_file_is_retrained_and_keys_separate_recipes(tmp_path: Path) -> None:
    trainer = _Trainer()
    key = state_key(data="abc", seed=0)
    path = cache_file("demo", key, cache_dir=tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half a file")
    assert pretrained_state("demo", key, trainer, cache_dir=tmp_path)["weight"][0, 0] == 1
    assert torch.load(path, weights_only=True)["weight"][0, 0] == 1
    assert state_key(data="abc", seed=1) != key and state_key(seed=0, data="abc") == key


def test_the_cache_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUTOSFT_CACHE_DIR", str(tmp_path))
    assert cache_root() == tmp_path and cache_root(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("AUTOSFT_CACHE_DIR")
    assert cache_root() == Path.home() / ".cache" / "autosft"
