"""The ``hf_image_classifier`` model: any Hugging Face image classifier, pre-trained or built from a config.

Pre-trained weights do not depend on the trial, so ``from_pretrained`` runs once per process and each
build starts a fresh module from the stored config and copies the weights in; the classifier (and
any other weight the checkpoint lacked or sized differently) is initialized from the trial's seed.
Building never touches the caller's global random state.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from autosft.components import BuiltModel, ModelBuilder, Splits
from autosft.default_plugins.vision.structure import describe
from autosft.engine.hf import Checkpoint, class_labels, quiet_transformers
from autosft.engine.seeding import seeded
from autosft.errors import ConfigError

__all__ = ["HEAD_DROPOUT", "HFImageClassifier", "HFImageClassifierOptions", "clear_weights_cache"]

logger = logging.getLogger(__name__)

#: Name of the dropout module inserted in front of the classifier (see ``head_dropout``).
HEAD_DROPOUT = "autosft_head_dropout"


class HFImageClassifierOptions(BaseModel):
    """Options of the ``hf_image_classifier`` model."""

    model_config = ConfigDict(extra="forbid")

    name_or_path: str | None = Field(
        default=None, description="Hub name (e.g. microsoft/resnet-18) or local folder of a pre-trained model."
    )
    from_config: dict[str, Any] | None = Field(
        default=None,
        description="Build with random weights from a transformers config: model_type plus its keys, "
        "e.g. {model_type: resnet, embedding_size: 16, hidden_sizes: [16, 32], depths: [1, 1]}.",
    )
    head_dropout: bool = Field(
        default=True,
        description="Put a dropout in front of the classifier whose rate the search's dropout dimension sets "
        "(convolutional backbones have no dropout of their own).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> HFImageClassifierOptions:
        if (self.name_or_path is None) == (self.from_config is None):
            raise ValueError("give exactly one of name_or_path (pre-trained) and from_config (random weights)")
        if self.from_config is not None and not isinstance(self.from_config.get("model_type"), str):
            raise ValueError("from_config needs a model_type, e.g. resnet, convnext or vit")
        return self


_CHECKPOINTS: dict[tuple[str, tuple[str, ...]], Checkpoint] = {}
_PROBED: set[tuple[Any, ...]] = set()


def clear_weights_cache() -> None:
    """Forget pre-trained weights held in this process."""
    _CHECKPOINTS.clear()
    _PROBED.clear()


def _input_shape(splits: Splits) -> tuple[int, int, int]:
    inputs = splits.train.inputs
    if splits.input_kind != "image" or not hasattr(inputs, "ndim") or inputs.ndim != 4:
        shape = getattr(inputs, "shape", type(inputs).__name__)
        raise ConfigError(
            f"model hf_image_classifier needs image inputs shaped (N, C, H, W), but the dataset gives "
            f"input kind {splits.input_kind!r} shaped {shape}"
        )
    return int(inputs.shape[1]), int(inputs.shape[2]), int(inputs.shape[3])


class HFImageClassifier(ModelBuilder):
    """Builds ``AutoModelForImageClassification`` models and reads their layer groups and LoRA targets."""

    name: ClassVar[str] = "hf_image_classifier"
    description: ClassVar[str] = (
        "Hugging Face image classifier (ResNet, ConvNeXt, ViT, ...): hub/local weights or a config"
    )
    Options: ClassVar[type[BaseModel]] = HFImageClassifierOptions
    #: What `autosft plugins --check` builds: a tiny ResNet with random weights (no download).
    example_options: ClassVar[Mapping[str, Any]] = MappingProxyType(
        {"from_config": {"model_type": "resnet", "embedding_size": 8, "hidden_sizes": [8, 16], "depths": [1, 1]}}
    )
    # Pre-trained backbones fine-tune best near 1e-4; small models trained from a config want ~1e-3.
    learning_rate: ClassVar[tuple[float, float, float]] = (1e-5, 3e-4, 1e-2)
    batch_sizes: ClassVar[tuple[int, ...]] = (16, 32, 64, 128)
    default_batch_size: ClassVar[int] = 32

    def build(self, options: BaseModel, splits: Splits, *, seed: int) -> BuiltModel:
        assert isinstance(options, HFImageClassifierOptions)
        channels, height, width = _input_shape(splits)
        if options.from_config is not None:
            config = _config_from_options(options.from_config, splits, channels, height)
            module, pretrained = _from_config(config, seed), False
            source = f"from_config model_type {options.from_config['model_type']!r}"
        else:
            assert options.name_or_path is not None
            checkpoint = _checkpoint(options.name_or_path, splits)
            module, pretrained = _from_checkpoint(checkpoint, seed), True
            source = repr(options.name_or_path)
        _probe(module, (channels, height, width), source, options)
        structure = describe(module)
        if options.head_dropout and len(structure.head) == 1:
            _add_head_dropout(module, structure.head[0])
        return BuiltModel(module, structure.layer_groups, structure.lora_targets, structure.head, pretrained)


def _config_from_options(values: dict[str, Any], splits: Splits, channels: int, size: int) -> Any:
    from transformers import AutoConfig

    settings = {key: value for key, value in values.items() if key != "model_type"}
    for key in ("num_labels", "id2label", "label2id"):
        if key in settings:
            raise ConfigError(f"model option from_config.{key} is set from the dataset's classes; remove it")
    try:
        config = AutoConfig.for_model(values["model_type"], **settings, **class_labels(splits))
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(
            f"model option from_config: transformers cannot build a {values['model_type']!r} config "
            f"({str(error).splitlines()[0][:200]})"
        ) from None
    # The dataset decides the input geometry unless the config pins it; a pinned mismatch is reported by the probe.
    if hasattr(config, "num_channels") and "num_channels" not in settings:
        config.num_channels = channels
    if hasattr(config, "image_size") and "image_size" not in settings:
        config.image_size = size
    return config


def _from_config(config: Any, seed: int) -> nn.Module:
    from transformers import AutoModelForImageClassification

    try:
        with seeded(seed), quiet_transformers():
            return AutoModelForImageClassification.from_config(config)
    except ValueError as error:
        raise ConfigError(
            f"model option from_config: {config.model_type!r} has no image-classification model in transformers "
            f"({str(error).splitlines()[0][:160]})"
        ) from None


def _checkpoint(name_or_path: str, splits: Splits) -> Checkpoint:
    key = (name_or_path, splits.class_names)
    if key not in _CHECKPOINTS:
        from transformers import AutoModelForImageClassification

        try:
            with quiet_transformers():
                model, info = AutoModelForImageClassification.from_pretrained(
                    name_or_path, ignore_mismatched_sizes=True, output_loading_info=True, **class_labels(splits)
                )
        except (OSError, ValueError) as error:
            raise ConfigError(
                f"model {name_or_path!r} cannot be loaded ({str(error).strip().splitlines()[0][:200]}); offline "
                "(HF_HUB_OFFLINE=1) a hub name needs its weights in the local Hugging Face cache: give a local "
                "folder, or from_config for random weights"
            ) from None
        _CHECKPOINTS[key] = checkpoint = Checkpoint.loaded(model, info)
        logger.info(
            "hf_image_classifier: loaded %s (%d weights re-initialized)", name_or_path, len(checkpoint.fresh_keys)
        )
    return _CHECKPOINTS[key]


def _from_checkpoint(checkpoint: Checkpoint, seed: int) -> nn.Module:
    return checkpoint.copy_into(_from_config(copy.deepcopy(checkpoint.config), seed))


def _probe(module: nn.Module, shape: tuple[int, int, int], source: str, options: HFImageClassifierOptions) -> None:
    """One forward pass on a blank image, once per model and input shape, so a geometry mismatch is one line."""
    key = (options.model_dump_json(), shape)
    if key in _PROBED:
        return
    training = module.training
    module.eval()
    try:
        with torch.no_grad():
            logits = getattr(module(torch.zeros(1, *shape)), "logits", None)
    except Exception as error:  # the model's own check (image size, channels) says what is wrong
        hint = "set the dataset options image_size/channels to what the model expects"
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise ConfigError(
            f"model {source} cannot take the dataset's {shape[0]}x{shape[1]}x{shape[2]} images ({reason}); {hint}"
        ) from None
    finally:
        module.train(training)
    if logits is None or logits.ndim != 2:
        raise ConfigError(f"model {source} returns no (batch, classes) logits")
    _PROBED.add(key)


def _add_head_dropout(module: nn.Module, head: str) -> None:
    """Register a Dropout on the model and apply it to the classifier's input through a pre-hook.

    A registered module is what the engine sets to the trial's dropout rate and what train()/eval()
    switch; a hook instead of a wrapper keeps the state-dict keys (and ``save_pretrained``) unchanged.
    The hook is a plain closure so that peft's copy of the head (``modules_to_save``) shares it.
    """
    dropout = nn.Dropout(0.0)
    module.add_module(HEAD_DROPOUT, dropout)

    def drop_features(_: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return (dropout(args[0]), *args[1:])

    module.get_submodule(head).register_forward_pre_hook(drop_features)
