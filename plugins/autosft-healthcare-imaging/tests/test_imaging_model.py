"""The ``hf_image_classifier`` builder on tiny ResNet, ConvNeXt and ViT configs and local checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from imaging_helpers import TINY_RESNET, TINY_VIT
from pydantic import ValidationError

from autosft.components import DataSplit, Splits
from autosft.default_plugins.vision.model import (
    HEAD_DROPOUT,
    HFImageClassifier,
    HFImageClassifierOptions,
    clear_weights_cache,
)
from autosft.errors import ConfigError

TINY_CONVNEXT = {"model_type": "convnext", "hidden_sizes": [8, 16], "depths": [1, 1], "num_stages": 2}


def _splits(channels: int = 1, size: int = 16, classes: int = 2) -> Splits:
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(12, channels, size, size)).astype(np.float32)
    split = DataSplit(inputs, np.arange(12) % classes)
    names = tuple(f"c{index}" for index in range(classes))
    return Splits(split, split, split, "binary" if classes == 2 else "multiclass", names, "image", "fp")


def _build(splits: Splits | None = None, seed: int = 0, **options: Any) -> Any:
    return HFImageClassifier().build(HFImageClassifierOptions(**options), splits or _splits(), seed=seed)


@pytest.fixture(autouse=True)
def _fresh_weights() -> None:
    clear_weights_cache()


STRUCTURES = [
    (
        TINY_RESNET,
        [["resnet.embedder"], ["resnet.encoder.stages.0"], ["resnet.encoder.stages.1"], ["classifier"]],
        ["conv"],
    ),
    (
        TINY_CONVNEXT,
        [["convnext.embeddings"], ["convnext.encoder.stages.0"], ["convnext.encoder.stages.1"],
         ["convnext.layernorm", "classifier"]],
        ["linear", "conv"],
    ),
    (TINY_VIT, [["vit.embeddings"], ["vit.layers.0"], ["vit.layers.1"], ["vit.layernorm", "classifier"]],
     ["attention", "linear", "conv"]),
]  # fmt: skip


@pytest.mark.parametrize(("config", "groups", "target_sets"), STRUCTURES, ids=["resnet", "convnext", "vit"])
def test_layer_groups_and_lora_targets_name_real_modules(
    config: dict[str, Any], groups: list[list[str]], target_sets: list[str]
) -> None:
    built = _build(from_config=config)
    modules = dict(built.module.named_modules())
    assert built.layer_groups == groups
    assert list(built.lora_targets) == target_sets
    assert built.head == ["classifier"] and built.pretrained is False
    for names in built.lora_targets.values():
        assert names and all(name in modules for name in names)
        assert not any(name.startswith("classifier") for name in names)
    assert all(isinstance(modules[name], torch.nn.Conv2d) for name in built.lora_targets["conv"])
    if "attention" in built.lora_targets:
        assert {name.rsplit(".", 1)[1] for name in built.lora_targets["attention"]} == {"q_proj", "k_proj", "v_proj"}
    logits = built.module(torch.zeros(3, 1, 16, 16)).logits  # the engine calls module(pixel_tensor)
    assert logits.shape == (3, 2)


def test_builds_are_seeded_independent_and_leave_global_rng_alone() -> None:
    torch.manual_seed(42)
    expected = torch.rand(3)
    torch.manual_seed(42)
    first, again, other = (_build(seed=seed, from_config=TINY_RESNET).module for seed in (0, 0, 1))
    assert torch.equal(torch.rand(3), expected)
    weight = "resnet.embedder.embedder.convolution.weight"
    assert torch.equal(first.state_dict()[weight], again.state_dict()[weight])
    assert not torch.equal(first.state_dict()[weight], other.state_dict()[weight])
    with torch.no_grad():
        first.state_dict()[weight].add_(1.0)
    assert not torch.equal(first.state_dict()[weight], again.state_dict()[weight])


def test_the_dataset_sets_channels_classes_and_image_size() -> None:
    built = _build(_splits(channels=3, size=24, classes=4), from_config=TINY_VIT)
    config = built.module.config
    assert (config.num_channels, config.image_size, config.num_labels) == (3, 24, 4)
    assert config.id2label == {0: "c0", 1: "c1", 2: "c2", 3: "c3"}


def test_head_dropout_follows_the_engine_dropout_rate() -> None:
    module = _build(from_config=TINY_VIT).module  # layer norms: train mode changes nothing but dropout
    dropout = module.get_submodule(HEAD_DROPOUT)
    assert isinstance(dropout, torch.nn.Dropout) and HEAD_DROPOUT not in "".join(module.state_dict())
    inputs = torch.randn(4, 1, 16, 16)
    module.eval()
    reference = module(inputs).logits
    dropout.p = 1.0  # what adapt_model does with the trial's dropout
    module.train()
    bias = module.classifier.bias.expand(4, -1)
    assert torch.allclose(module(inputs).logits, bias)  # every feature dropped: only the bias is left
    module.eval()
    assert torch.allclose(module(inputs).logits, reference)
    assert not any(
        isinstance(m, torch.nn.Dropout) for m in _build(from_config=TINY_RESNET, head_dropout=False).module.modules()
    )


def test_local_checkpoint_keeps_backbone_weights_and_seeds_a_new_head(pretrained_dir: dict[str, Path]) -> None:
    from transformers import AutoModelForImageClassification

    original = AutoModelForImageClassification.from_pretrained(pretrained_dir["resnet"]).state_dict()
    built = _build(name_or_path=str(pretrained_dir["resnet"]))
    state = built.module.state_dict()
    assert built.pretrained is True
    stem = "resnet.embedder.embedder.convolution.weight"
    assert torch.equal(state[stem], original[stem])
    assert state["classifier.1.weight"].shape == (2, 16)  # 5 pre-trained classes, 2 here
    again = _build(name_or_path=str(pretrained_dir["resnet"])).module.state_dict()
    other = _build(name_or_path=str(pretrained_dir["resnet"]), seed=3).module.state_dict()
    assert torch.equal(again["classifier.1.weight"], state["classifier.1.weight"])
    assert not torch.equal(other["classifier.1.weight"], state["classifier.1.weight"])


@pytest.mark.parametrize(
    ("options", "splits", "message"),
    [
        ({"from_config": {"model_type": "nonsense"}}, None, r"cannot build a 'nonsense' config"),
        ({"from_config": {"model_type": "bert"}}, None, r"'bert' has no image-classification model"),
        ({"from_config": {**TINY_VIT, "image_size": 32}}, None, r"cannot take the dataset's 1x16x16 images"),
        ({"from_config": {**TINY_RESNET, "num_labels": 3}}, None, r"from_config.num_labels is set from the dataset"),
        ({"name_or_path": "microsoft/resnet-18"}, None, r"'microsoft/resnet-18' cannot be loaded .* offline"),
    ],
    ids=["unknown-type", "not-an-image-model", "image-size", "num-labels", "hub-offline"],
)
def test_unusable_models_are_one_line_config_errors(
    options: dict[str, Any], splits: Splits | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        _build(splits, **options)
    assert "\n" not in str(caught.value)


def test_options_need_exactly_one_source_and_a_model_type() -> None:
    with pytest.raises(ValidationError, match="exactly one of name_or_path"):
        HFImageClassifierOptions()
    with pytest.raises(ValidationError, match="from_config needs a model_type"):
        HFImageClassifierOptions(from_config={"hidden_sizes": [8]})


def test_non_image_inputs_are_refused() -> None:
    table = DataSplit(np.zeros((4, 3), np.float32), np.array([0, 1, 0, 1]))
    splits = Splits(table, table, table, "binary", ("a", "b"), "tabular", "fp")
    with pytest.raises(ConfigError, match=r"needs image inputs shaped \(N, C, H, W\).*'tabular' shaped \(4, 3\)"):
        _build(splits, from_config=TINY_RESNET)
