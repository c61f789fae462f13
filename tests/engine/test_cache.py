"""Work shared across trials: encoded inputs cached per (encoder, data), the LRU activation cache,
dynamic padding with length buckets, and the staged forward that frozen-prefix training runs on."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from autosft.components import DataSplit, InputEncoder, Splits
from autosft.config import parse_study
from autosft.contracts import TrialPlan
from autosft.engine.cache import (
    ACTIVATION_BUDGET_ENV,
    ActivationCache,
    activation_cache,
    clear_caches,
    encode_splits,
    load_once,
    save_npz,
    write_atomically,
)
from autosft.engine.data import DeviceSplit, iterate_batches, trim_padding
from autosft.engine.device import pick_device
from autosft.engine.loop import train
from autosft.engine.staging import hooked_stages, stages_agree
from autosft.engine.trial import training_job
from autosft.search.prepare import PreparedStudy, prepare_study
from autosft.testing import toy_manager, toy_study

CPU = pick_device("cpu")


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("AUTOSFT_CACHE_DIR", str(tmp_path / "cache"))
    clear_caches()
    yield
    clear_caches()


def test_the_activation_cache_evicts_the_least_recently_used() -> None:
    row = torch.zeros(256)  # 1 KiB
    cache = ActivationCache(budget_bytes=3 * 1024)
    for key in "abc":
        assert cache.put(key, row.clone())
    assert cache.get("a") is not None  # a is now the most recent; b the least
    cache.put("d", row.clone())
    assert cache.lru_order() == ["c", "a", "d"] and cache.used_bytes == 3 * 1024
    assert not cache.put("huge", torch.zeros(1024)) and "huge" not in cache
    assert cache.get("b") is None and (cache.hits, cache.misses) == (1, 1)


def _text_splits(fingerprint: str = "data-v1") -> Splits:
    texts = np.array(["a b c", "a", "b c d e", "c d"], dtype=object)
    split = DataSplit(texts, np.array([0, 1, 0, 1]))
    return Splits(split, split, split, "binary", ("no", "yes"), "text", fingerprint)


def _counting_encoder(calls: list[int], key: str = "words|max=8") -> InputEncoder:
    def encode(texts: Any) -> Mapping[str, np.ndarray]:
        calls.append(len(texts))
        width = max(len(text.split()) for text in texts)
        mask = np.array([[1] * len(text.split()) + [0] * (width - len(text.split())) for text in texts])
        return {"input_ids": mask * 7, "attention_mask": mask}

    return InputEncoder(key=key, encode=encode)


def test_inputs_are_encoded_once_per_encoder_and_data(tmp_path: Path) -> None:
    calls: list[int] = []
    first = encode_splits(_text_splits(), _counting_encoder(calls))
    assert calls == [4, 4, 4] and first.train.inputs["attention_mask"].sum(axis=1).tolist() == [3, 1, 4, 2]
    assert encode_splits(_text_splits(), _counting_encoder(calls)) is first  # memory
    clear_caches()
    from_disk = encode_splits(_text_splits(), _counting_encoder(calls))  # another process: the disk file
    assert calls == [4, 4, 4] and from_disk.fingerprint == first.fingerprint
    np.testing.assert_array_equal(from_disk.val.inputs["input_ids"], first.val.inputs["input_ids"])
    other = encode_splits(_text_splits(), _counting_encoder(calls, key="words|max=16"))
    changed = encode_splits(_text_splits("data-v2"), _counting_encoder(calls))
    assert len(calls) == 9 and len({first.fingerprint, other.fingerprint, changed.fingerprint}) == 3
    assert list((tmp_path / "cache" / "encoded").glob("*.npz"))


def test_weights_are_loaded_once_per_process() -> None:
    loads: list[str] = []
    for _ in range(3):
        state = load_once(("model", "path"), lambda: loads.append("read") or {"weight": torch.ones(2)})
    assert loads == ["read"] and torch.equal(state["weight"], torch.ones(2))


def _sequences(lengths: list[int], width: int = 12) -> DeviceSplit:
    mask = torch.tensor([[1] * n + [0] * (width - n) for n in lengths])
    hidden = torch.arange(len(lengths) * width * 2, dtype=torch.float32).reshape(len(lengths), width, 2)
    return DeviceSplit({"input_ids": mask * 5, "attention_mask": mask, "hidden": hidden}, torch.zeros(len(lengths)))


def test_batches_are_padded_to_their_longest_row() -> None:
    rows = _sequences([3, 5, 2, 9])
    batch = rows.rows(torch.tensor([0, 2]))
    assert batch["input_ids"].shape == (2, 3) and batch["hidden"].shape == (2, 3, 2)
    assert trim_padding({"attention_mask": torch.ones(2, 4), "scores": torch.ones(2, 7)})["scores"].shape == (2, 7)


def test_length_buckets_are_seeded_and_cover_every_row_once() -> None:
    lengths = torch.randint(1, 13, (400,), generator=torch.Generator().manual_seed(0)).tolist()
    rows = _sequences(lengths)

    def epoch(seed: int) -> list[list[int]]:
        batches = iterate_batches(rows, 8, generator=torch.Generator().manual_seed(seed))
        return [inputs["attention_mask"].sum(dim=1).tolist() for inputs, _ in batches]

    first = epoch(0)
    assert first == epoch(0) and first != epoch(1)
    assert sorted(n for batch in first for n in batch) == sorted(lengths)
    spread = np.mean([max(batch) - min(batch) for batch in first])
    assert spread < 2  # random batches of 8 from lengths 1..12 spread about 8


@pytest.fixture(scope="module")
def toy() -> PreparedStudy:
    study = toy_study("sqlite://", dataset={"name": "toy_blobs", "options": {"rows": 300}},
                      model={"name": "toy_mlp", "options": {"blocks": 3}})  # fmt: skip
    return prepare_study(parse_study(study, where="test"), toy_manager())


def _staged(prepared: PreparedStudy, plan: TrialPlan, *, cache: bool) -> Any:
    job = training_job(prepared, plan, CPU)
    built = dataclasses.replace(job.built, stages=hooked_stages(job.built.layer_groups, key=f"toy:{plan.seed}"))
    return train(dataclasses.replace(job, built=built, cache_activations=cache))


PLAN = TrialPlan(
    learning_rate=3e-3, batch_size=32, epochs=3, warmup_ratio=0.0, weight_decay=0.0, dropout=0.2,
    label_smoothing=0.0, patience=5, adaptation="freeze", freeze_depth=2, seed=0,
)  # fmt: skip


def test_a_staged_forward_reproduces_the_whole_model(toy: PreparedStudy) -> None:
    built = toy.build_model(PLAN)
    stages = hooked_stages(built.layer_groups, key="toy")
    inputs = torch.randn(5, 6)
    assert stages_agree(stages, built.module, inputs, len(built.layer_groups))
    state = stages.run(built.module, inputs, None, 0, 2)
    assert state.shape == (5, 16)
    with pytest.raises(ValueError, match="give it exactly when start > 0"):
        stages.run(built.module, inputs, None, 1, 3)


@pytest.mark.parametrize("freeze_depth", [1, 3])
def test_cached_activations_train_exactly_like_the_whole_model(toy: PreparedStudy, freeze_depth: int) -> None:
    plan = dataclasses.replace(PLAN, freeze_depth=freeze_depth)
    cached, whole = _staged(toy, plan, cache=True), _staged(toy, plan, cache=False)
    assert cached.result.notes == [f"trained on cached activations of layer groups 1-{freeze_depth}"]
    assert not whole.result.notes
    for name, value in whole.module.state_dict().items():
        torch.testing.assert_close(cached.module.state_dict()[name], value)
    assert [e["train_loss"] for e in cached.result.history] == pytest.approx(
        [e["train_loss"] for e in whole.result.history], rel=1e-6
    )


def test_a_budget_of_zero_turns_the_cache_off(toy: PreparedStudy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ACTIVATION_BUDGET_ENV, "0")
    clear_caches()
    assert not _staged(toy, PLAN, cache=True).result.notes and not activation_cache().lru_order()


def test_save_npz_writes_whole_files_and_warns_when_the_disk_refuses(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "deep" / "arrays.npz"
    save_npz(path, {"a": np.arange(3)}, what="the test cache")
    with np.load(path) as archive:
        assert archive["a"].tolist() == [0, 1, 2]
    blocked = tmp_path / "blocked.npz"
    blocked.mkdir()  # renaming a file onto a folder fails with an OSError, as a refusing disk would
    with caplog.at_level(logging.WARNING):
        save_npz(blocked, {"a": np.arange(3)}, what="the test cache")
    assert "cannot write the test cache" in caplog.text
    assert not list(tmp_path.glob("*.tmp"))


def test_write_atomically_leaves_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    path = tmp_path / "state.bin"
    path.write_bytes(b"old")

    def fail(stream: Any) -> None:
        stream.write(b"half")
        raise ValueError("writer broke")

    with pytest.raises(ValueError, match="writer broke"):
        write_atomically(path, fail)
    assert path.read_bytes() == b"old"
    assert not list(tmp_path.glob("*.tmp"))
