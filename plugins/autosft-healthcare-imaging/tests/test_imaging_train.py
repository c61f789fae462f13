"""Tiny ResNet and ViT checkpoints trained through the real engine: full, freeze and LoRA, with augmentation.

The studies are prepared the way ``autosft search`` prepares them (registry from the installed
plugins, data loaded, model probed, search space declared); each test then trains one plan.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch
from imaging_helpers import TINY_RESNET, write_npz

from autosft.config import parse_study
from autosft.contracts import TrialPlan
from autosft.engine.device import pick_device
from autosft.engine.job import TrainedModel
from autosft.engine.loop import train
from autosft.engine.trial import training_job
from autosft.plugins import get_plugin_manager
from autosft.search.prepare import PreparedStudy, prepare_study
from autosft.space import Categorical

CPU = pick_device("cpu")
PLAN = TrialPlan(
    learning_rate=3e-3, batch_size=8, epochs=3, warmup_ratio=0.0, weight_decay=0.0, dropout=0.0,
    label_smoothing=0.0, patience=5, adaptation="full", seed=0,
)  # fmt: skip


def _study(data: Path, model: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "name": "imaging-test",
        "task": "binary",
        "dataset": {"name": "image_npz", "options": {"path": str(data), "class_names": ["healthy", "sick"]}},
        "model": {"name": "hf_image_classifier", "options": model},
        "objective": {"metric": "roc_auc"},
        "budget": {"n_trials": 2, "max_epochs": 3},
        **overrides,
    }


@pytest.fixture(scope="module")
def npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_npz(tmp_path_factory.mktemp("data") / "tiny.npz", counts=(64, 24, 24))


@pytest.fixture(scope="module", params=["resnet", "vit"])
def prepared(request: pytest.FixtureRequest, npz: Path, pretrained_dir: dict[str, Path]) -> PreparedStudy:
    model = {"name_or_path": str(pretrained_dir[request.param])}
    return prepare_study(parse_study(_study(npz, model), where="test"), get_plugin_manager())


def _train(prepared: PreparedStudy, **changes: Any) -> tuple[dict[str, torch.Tensor], TrainedModel]:
    job = training_job(prepared, dataclasses.replace(PLAN, **changes), CPU)
    before = {name: value.detach().clone() for name, value in job.built.module.state_dict().items()}
    return before, train(job)


def _changed(before: dict[str, torch.Tensor], module: torch.nn.Module, prefix: str) -> bool:
    after = {name.replace("base_model.model.", "").replace(".base_layer", ""): value
             for name, value in module.state_dict().items()}  # fmt: skip
    # Parameters only: under LoRA, batch norms still track the new data's statistics (buffers).
    names = [name for name in before if name.startswith(prefix) and "running_" not in name and "batches" not in name]
    assert names, prefix
    return any(not torch.equal(before[name], after[name]) for name in names)


def test_the_space_offers_every_mode_for_pretrained_weights(prepared: PreparedStudy) -> None:
    adaptation = prepared.space.dimensions["adaptation"]
    assert isinstance(adaptation, Categorical) and adaptation.choices == ("full", "freeze", "lora")
    augmentation = prepared.space.dimensions["augmentation"]
    assert isinstance(augmentation, Categorical)
    assert "flip_h" in augmentation.choices and "flip_hv" not in augmentation.choices
    imbalance = prepared.space.dimensions["imbalance"]
    assert isinstance(imbalance, Categorical) and {"class_weights", "focal", "oversample"} <= set(imbalance.choices)


def test_full_fine_tuning_learns(prepared: PreparedStudy) -> None:
    before, trained = _train(prepared, augmentation="basic_policy", augmentation_strength=0.5)
    assert trained.result.values[0] > 0.85  # the bright square is easy to find
    assert trained.result.trainable_parameters == trained.result.total_parameters
    assert _changed(before, trained.module, prepared.build_model(PLAN).layer_groups[0][0])


def test_freezing_keeps_the_input_side_fixed(prepared: PreparedStudy) -> None:
    groups = prepared.build_model(PLAN).layer_groups
    before, trained = _train(prepared, adaptation="freeze", freeze_depth=2, imbalance="class_weights")
    assert not _changed(before, trained.module, groups[0][0])
    assert not _changed(before, trained.module, groups[1][0])
    assert _changed(before, trained.module, groups[2][0])
    assert _changed(before, trained.module, "classifier")
    assert trained.result.trainable_parameters < trained.result.total_parameters


def test_lora_trains_adapters_and_head_only(prepared: PreparedStudy) -> None:
    built = prepared.build_model(PLAN)
    target_set = next(iter(built.lora_targets))  # attention for ViT, conv for ResNet
    before, trained = _train(prepared, adaptation="lora", learning_rate=1e-2, lora_rank=4, lora_alpha=8,
                             lora_targets=target_set, augmentation="cutmix", augmentation_strength=0.5)  # fmt: skip
    named = dict(trained.module.named_parameters())
    adapters = [name for name in named if "lora_" in name]
    assert adapters and all(named[name].requires_grad for name in adapters)
    assert not _changed(before, trained.module, built.layer_groups[1][0])  # base weights stay as loaded
    assert trained.result.trainable_parameters < trained.result.total_parameters / 2
    assert trained.result.values[0] > 0.7


def test_same_plan_same_history(prepared: PreparedStudy) -> None:
    plan = {"augmentation": "affine", "augmentation_strength": 0.7, "imbalance": "oversample", "epochs": 1}
    _, first = _train(prepared, **plan)
    _, second = _train(prepared, **plan)
    assert first.result.history == second.result.history


def test_random_weights_offer_full_training_only_and_vertical_flips_when_named(npz: Path) -> None:
    study = _study(npz, {"from_config": TINY_RESNET},
                   search_space={"augmentation": {"choices": ["none", "flip_h", "flip_hv"]}})  # fmt: skip
    prepared = prepare_study(parse_study(study, where="test"), get_plugin_manager())
    adaptation = prepared.space.dimensions["adaptation"]
    augmentation = prepared.space.dimensions["augmentation"]
    assert isinstance(adaptation, Categorical) and adaptation.choices == ("full",)
    assert isinstance(augmentation, Categorical) and augmentation.choices == ("none", "flip_h", "flip_hv")
    _, trained = _train(prepared, augmentation="flip_hv", augmentation_strength=1.0, epochs=2)
    assert trained.result.epochs_run == 2
