"""The ``tabular_mlp`` builder: shapes, structure names, pre-training, caching and peft LoRA."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from autosft_fraud_tabular.model import (
    TabularMLPBuilder,
    TabularMLPOptions,
    cache_path,
    clear_memory_cache,
)
from peft import LoraConfig, get_peft_model

from autosft.components import DataSplit, Splits
from autosft.errors import ConfigError


@pytest.fixture
def options(tmp_path: Path) -> TabularMLPOptions:
    return TabularMLPOptions(hidden_sizes=[32, 16, 16], pretrain_epochs=2, cache_dir=tmp_path / "cache")


@pytest.fixture(autouse=True)
def _fresh_memory_cache() -> None:
    clear_memory_cache()


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in module.state_dict().items()}


def test_forward_returns_logits_per_class(options: TabularMLPOptions, fraud_splits: Splits) -> None:
    built = TabularMLPBuilder().build(options, fraud_splits, seed=0)
    batch = torch.from_numpy(fraud_splits.val.inputs[:7])
    assert built.module(batch).shape == (7, 2)


def test_structure_names_real_submodules(options: TabularMLPOptions, fraud_splits: Splits) -> None:
    built = TabularMLPBuilder().build(options, fraud_splits, seed=0)
    modules = dict(built.module.named_modules())

    assert built.layer_groups == [["input"], ["blocks.0"], ["blocks.1"], ["head"]]
    assert all(name in modules for group in built.layer_groups for name in group)
    assert built.lora_targets == {
        "all_linear": ["input.linear", "blocks.0.linear", "blocks.1.linear"],
        "hidden": ["blocks.0.linear", "blocks.1.linear"],
    }
    for targets in built.lora_targets.values():
        assert all(isinstance(modules[name], torch.nn.Linear) for name in targets)
    assert built.head == ["head"]
    assert isinstance(modules["head"], torch.nn.Linear)


@pytest.mark.parametrize("target_set", ["all_linear", "hidden"])
def test_peft_lora_wraps_the_model(options: TabularMLPOptions, fraud_splits: Splits, target_set: str) -> None:
    built = TabularMLPBuilder().build(options, fraud_splits, seed=0)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=built.lora_targets[target_set], modules_to_save=built.head)
    model = get_peft_model(built.module, config)

    trainable = {name for name, param in model.named_parameters() if param.requires_grad}
    assert any("lora_A" in name for name in trainable)
    assert any("head" in name for name in trainable)
    assert not any(name.endswith("input.linear.base_layer.weight") for name in trainable)
    logits = model(torch.from_numpy(fraud_splits.val.inputs[:5]))
    logits.sum().backward()
    assert logits.shape == (5, 2)


def test_builds_are_independent_copies_of_the_pretrained_weights(
    options: TabularMLPOptions, fraud_splits: Splits
) -> None:
    first = TabularMLPBuilder().build(options, fraud_splits, seed=0).module
    second = TabularMLPBuilder().build(options, fraud_splits, seed=0).module
    before = weights(second)
    assert all(torch.equal(value, before[name]) for name, value in weights(first).items())

    with torch.no_grad():
        first.input.linear.weight.add_(1.0)
    assert torch.equal(second.input.linear.weight, before["input.linear.weight"])
    random_init = TabularMLPBuilder().build(options, dataclasses.replace(fraud_splits, pretrain=None), seed=0)
    assert not torch.equal(random_init.module.input.linear.weight, before["input.linear.weight"])


def test_pretraining_learns_the_source_task(options: TabularMLPOptions, fraud_splits: Splits) -> None:
    from sklearn.metrics import roc_auc_score

    module = TabularMLPBuilder().build(options.model_copy(update={"pretrain_epochs": 8}), fraud_splits, seed=0).module
    module.eval()
    with torch.no_grad():
        scores = module(torch.from_numpy(fraud_splits.test.inputs)).softmax(-1)[:, 1].numpy()
    assert roc_auc_score(fraud_splits.test.labels, scores) > 0.7


def test_pretraining_is_deterministic_under_the_seed(options: TabularMLPOptions, fraud_splits: Splits) -> None:
    builder = TabularMLPBuilder()
    first = weights(builder.build(options, fraud_splits, seed=3).module)
    clear_memory_cache()
    cache_path(options, fraud_splits, 3).unlink()
    again = weights(builder.build(options, fraud_splits, seed=3).module)
    other = weights(builder.build(options, fraud_splits, seed=4).module)
    assert all(torch.equal(value, again[name]) for name, value in first.items())
    assert not torch.equal(first["input.linear.weight"], other["input.linear.weight"])


def test_building_leaves_global_torch_state_alone(options: TabularMLPOptions, fraud_splits: Splits) -> None:
    torch.manual_seed(42)
    expected = torch.rand(3)
    torch.manual_seed(42)
    threads = torch.get_num_threads()
    TabularMLPBuilder().build(options, fraud_splits, seed=0)  # pre-trains: dropout, shuffles, inits
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_the_cache_file_is_reused_across_processes(
    options: TabularMLPOptions, fraud_splits: Splits, caplog: pytest.LogCaptureFixture
) -> None:
    builder = TabularMLPBuilder()
    first = weights(builder.build(options, fraud_splits, seed=0).module)
    path = cache_path(options, fraud_splits, 0)
    assert path.is_file()
    assert not list(path.parent.glob("*.tmp"))
    written = path.stat().st_mtime_ns

    clear_memory_cache()  # as a fresh worker process would start
    with caplog.at_level(logging.INFO):
        second = weights(builder.build(options, fraud_splits, seed=0).module)
    assert path.stat().st_mtime_ns == written
    assert "loaded pre-trained weights" in caplog.text
    assert "pre-training on" not in caplog.text
    assert all(torch.equal(value, second[name]) for name, value in first.items())


def test_a_corrupt_cache_file_is_rebuilt(options: TabularMLPOptions, fraud_splits: Splits) -> None:
    path = cache_path(options, fraud_splits, 0)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half a file")
    TabularMLPBuilder().build(options, fraud_splits, seed=0)
    assert torch.load(path, weights_only=True)["head.weight"].shape == (2, 16)


def test_cache_dir_defaults_to_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fraud_splits: Splits
) -> None:
    monkeypatch.setenv("AUTOSFT_CACHE_DIR", str(tmp_path))
    assert cache_path(TabularMLPOptions(), fraud_splits, 0).parent == tmp_path / "tabular_mlp"
    monkeypatch.delenv("AUTOSFT_CACHE_DIR")
    assert cache_path(TabularMLPOptions(), fraud_splits, 0).parent == Path.home() / ".cache" / "autosft" / "tabular_mlp"


def test_without_pretrain_the_model_is_seeded_and_says_so(
    options: TabularMLPOptions, fraud_splits: Splits, caplog: pytest.LogCaptureFixture
) -> None:
    splits = dataclasses.replace(fraud_splits, pretrain=None, fingerprint="no-pretrain-test")
    with caplog.at_level(logging.INFO, logger="autosft_fraud_tabular"):
        first = TabularMLPBuilder().build(options, splits, seed=1).module
        second = TabularMLPBuilder().build(options, splits, seed=1).module
    assert caplog.text.count("no pretrain split") == 1
    assert torch.equal(first.head.weight, second.head.weight)
    assert options.cache_dir is not None and not options.cache_dir.exists()


def test_a_different_class_count_gets_a_fresh_head(options: TabularMLPOptions, fraud_splits: Splits) -> None:
    labels = fraud_splits.pretrain.labels.copy()  # type: ignore[union-attr]
    labels[::7] = 2  # the source task has a third class the target lacks
    splits = dataclasses.replace(fraud_splits, pretrain=DataSplit(fraud_splits.pretrain.inputs, labels))  # type: ignore[union-attr]
    module = TabularMLPBuilder().build(options, splits, seed=0).module
    assert module.head.out_features == 2
    assert torch.load(cache_path(options, splits, 0), weights_only=True)["head.weight"].shape[0] == 3


def test_non_tabular_inputs_are_refused(options: TabularMLPOptions, fraud_splits: Splits) -> None:
    images = DataSplit(np.zeros((4, 1, 8, 8), dtype=np.float32), np.array([0, 1, 0, 1]))
    splits = dataclasses.replace(fraud_splits, train=images, input_kind="image", pretrain=None)
    with pytest.raises(ConfigError, match=r"2-D tabular inputs.*'image'.*\(4, 1, 8, 8\)"):
        TabularMLPBuilder().build(options, splits, seed=0)


def test_a_layer_of_no_units_is_refused_with_the_options() -> None:
    with pytest.raises(ValueError, match="hidden_sizes.0"):
        TabularMLPOptions(hidden_sizes=[0])
