"""The ``tabm`` builder: member and ensemble logits, bins from train only, structure names, freezing,
peft LoRA, pre-training with its cache, and a tiny study end to end through ``export --onnx``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from autosft_fraud_tabular.ensemble import TabM, TabMBuilder, TabMOptions, numeric_columns
from peft import LoraConfig, get_peft_model
from rtdl_num_embeddings import compute_bins

from autosft.components import DataSplit, Splits
from autosft.config import parse_study
from autosft.contracts import TrialPlan
from autosft.engine.model import adapt_model
from autosft.errors import ConfigError
from autosft.export import export_study
from autosft.export.exporter import RUN_CARD
from autosft.export.onnx import ONNX_FILE, RELATIVE_TOLERANCE
from autosft.search.controller import run_search


def tiny(tmp_path: Path, **changes: Any) -> TabMOptions:
    settings: dict[str, Any] = {"k": 4, "d_block": 16, "n_bins": 8, "d_embedding": 4, "pretrain_epochs": 2}
    return TabMOptions(cache_dir=tmp_path / "cache", **(settings | changes))


@pytest.fixture(autouse=True)
def _fresh_memory_cache() -> None:
    from autosft import clear_memory_cache

    clear_memory_cache()


def test_training_gives_every_member_and_eval_their_mean_probability(tmp_path: Path, fraud_splits: Splits) -> None:
    module = TabMBuilder().build(tiny(tmp_path), fraud_splits, seed=0).module
    batch = torch.from_numpy(fraud_splits.val.inputs[:7])
    module.eval()  # dropout off, so both calls see the same members
    with torch.no_grad():
        members = TabM.members(module, batch)  # type: ignore[arg-type]
        combined = module(batch)
    assert members.shape == (7, 4, 2) and combined.shape == (7, 2)
    assert torch.allclose(combined.softmax(-1), members.softmax(-1).mean(1), atol=1e-6)
    assert module.train()(batch).shape == (7, 4, 2)


def test_bins_come_from_the_train_split_only(tmp_path: Path, fraud_splits: Splits) -> None:
    train = torch.from_numpy(fraud_splits.train.inputs)
    numeric = numeric_columns(train)
    assert numeric and all(len(torch.unique(train[:, column])) >= 3 for column in numeric)
    assert len(numeric) < train.shape[1]  # the one-hot columns pass through
    shifted = dataclasses.replace(fraud_splits, val=DataSplit(fraud_splits.val.inputs * 10, fraud_splits.val.labels),
                                  test=DataSplit(fraud_splits.test.inputs + 5, fraud_splits.test.labels))  # fmt: skip
    options = tiny(tmp_path)
    encodings = [
        TabMBuilder().build(options, splits, seed=0).module.embeddings.impl for splits in (fraud_splits, shifted)
    ]
    assert all(torch.equal(encodings[0].get_buffer(name), encodings[1].get_buffer(name)) for name in ("weight", "bias"))
    expected = compute_bins(train[:, numeric], n_bins=options.n_bins)  # the encoding's bins, edge for edge
    assert encodings[0].get_buffer("weight").shape == (len(expected), max(len(edges) - 1 for edges in expected))


@pytest.mark.parametrize(("arch", "embeddings"), [("tabm", "piecewise_linear"), ("tabm-mini", "none")])
def test_structure_names_real_submodules(tmp_path: Path, fraud_splits: Splits, arch: str, embeddings: str) -> None:
    built = TabMBuilder().build(tiny(tmp_path, arch=arch, numeric_embeddings=embeddings), fraud_splits, seed=0)
    modules = dict(built.module.named_modules())
    assert all(name in modules for group in built.layer_groups for name in group)
    assert built.head == ["output"] and built.layer_groups[-1] == ["output"]
    if arch == "tabm":
        assert built.layer_groups == [["embeddings"], ["backbone.blocks.0"], ["backbone.blocks.1"], ["output"]]
        assert built.lora_targets == {}  # BatchEnsemble layers are not nn.Linear: peft cannot wrap them
    else:
        assert built.layer_groups == [["backbone.blocks.0", "backbone.affine"], ["backbone.blocks.1"], ["output"]]
        assert built.lora_targets == {"all_linear": ["backbone.blocks.0.0", "backbone.blocks.1.0"],
                                      "hidden": ["backbone.blocks.1.0"]}  # fmt: skip
        assert all(isinstance(modules[name], torch.nn.Linear) for name in built.lora_targets["all_linear"])


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_freezing_the_first_groups_leaves_the_rest_trainable(tmp_path: Path, fraud_splits: Splits, depth: int) -> None:
    built = TabMBuilder().build(tiny(tmp_path), fraud_splits, seed=0)
    plan = TrialPlan(learning_rate=1e-3, batch_size=32, epochs=1, warmup_ratio=0.0, weight_decay=0.0, dropout=0.1,
                     label_smoothing=0.0, patience=1, adaptation="freeze", freeze_depth=depth)  # fmt: skip
    module = adapt_model(built, plan).module
    for index, group in enumerate(built.layer_groups):
        parameters = [p for name in group for p in module.get_submodule(name).parameters()]
        assert parameters and all(p.requires_grad == (index >= depth) for p in parameters), group


@pytest.mark.parametrize("target_set", ["all_linear", "hidden"])
def test_peft_lora_wraps_tabm_mini(tmp_path: Path, fraud_splits: Splits, target_set: str) -> None:
    built = TabMBuilder().build(tiny(tmp_path), fraud_splits, seed=0)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=built.lora_targets[target_set], modules_to_save=built.head)
    model = get_peft_model(built.module, config)
    trainable = {name for name, param in model.named_parameters() if param.requires_grad}
    assert any("lora_A" in name for name in trainable) and any("output" in name for name in trainable)
    assert not any("embeddings" in name for name in trainable)
    logits = model.train()(torch.from_numpy(fraud_splits.val.inputs[:5]))
    logits.sum().backward()
    assert logits.shape == (5, 4, 2)


def test_pretraining_learns_the_source_task_and_is_cached(tmp_path: Path, fraud_splits: Splits) -> None:
    from sklearn.metrics import roc_auc_score

    options = tiny(tmp_path, pretrain_epochs=5)
    built = TabMBuilder().build(options, fraud_splits, seed=0)
    assert built.pretrained and TabMBuilder().cache_path(options, fraud_splits, 0).is_file()
    pretrain = fraud_splits.pretrain
    assert pretrain is not None
    with torch.no_grad():
        scores = built.module.eval()(torch.from_numpy(pretrain.inputs)).softmax(-1)[:, 1].numpy()
    assert roc_auc_score(pretrain.labels, scores) > 0.8
    again = TabMBuilder().build(options, fraud_splits, seed=0).module
    assert all(torch.equal(a, b) for a, b in zip(built.module.state_dict().values(), again.state_dict().values(),
                                                 strict=True))  # fmt: skip


def test_a_different_class_count_gets_a_fresh_head(tmp_path: Path, fraud_splits: Splits) -> None:
    labels = fraud_splits.pretrain.labels.copy()  # type: ignore[union-attr]
    labels[::7] = 2  # the source task has a third class the target lacks
    splits = dataclasses.replace(fraud_splits, pretrain=DataSplit(fraud_splits.pretrain.inputs, labels))  # type: ignore[union-attr]
    module = TabMBuilder().build(tiny(tmp_path), splits, seed=0).module
    assert module.output.out_features == 2


def test_multilabel_and_non_tabular_inputs_are_refused(tmp_path: Path, fraud_splits: Splits) -> None:
    with pytest.raises(ConfigError, match="not multilabel"):
        TabMBuilder().build(tiny(tmp_path), dataclasses.replace(fraud_splits, task="multilabel"), seed=0)
    with pytest.raises(ConfigError, match="model tabm needs 2-D tabular inputs"):
        TabMBuilder().build(tiny(tmp_path), dataclasses.replace(fraud_splits, input_kind="text"), seed=0)


@pytest.mark.slow  # pre-training, two trials, the final test and an export with its ONNX check
def test_a_tiny_tabm_study_runs_end_to_end_and_exports_to_onnx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOSFT_CACHE_DIR", str(tmp_path / "cache"))
    study = {
        "name": "tabm-tiny", "task": "binary", "storage": f"sqlite:///{tmp_path / 'study.db'}", "seed": 0,
        "dataset": {"name": "synthetic_fraud", "options": {"n_rows": 600, "positive_rate": 0.15}},
        "model": {"name": "tabm", "options": {"k": 4, "d_block": 16, "n_bins": 8, "pretrain_epochs": 2}},
        "objective": {"metric": "roc_auc"}, "budget": {"n_trials": 2, "max_epochs": 2},
        "search_space": {"adaptation": {"choices": ["full", "freeze", "lora"]}},
    }  # fmt: skip
    outcome = run_search(parse_study(study, where="test"), check_data=False)
    assert outcome.states.get("COMPLETE", 0) + outcome.states.get("PRUNED", 0) == 2
    assert outcome.final_test is not None and 0.5 < outcome.final_test["test_metrics"]["roc_auc"] <= 1
    export_study(study["storage"], study["name"], tmp_path / "export", onnx=True, resamples=20)
    card = json.loads((tmp_path / "export" / RUN_CARD).read_text())["onnx"]
    assert card["file"] == ONNX_FILE and 0 <= card["max_relative_difference"] <= RELATIVE_TOLERANCE
