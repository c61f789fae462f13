"""What every tabular backbone of this plugin shares: pre-training once on the source population, cached.

Pre-training depends on the data, the options and the seed, never on the trial, so it runs once
per study (per machine) and every trial starts from the cached weights
(:mod:`autosft.engine.pretrained`: in memory per worker process, in files across processes and runs).
A backbone (``tabular_mlp``, ``tabm``) says only how its module is made and how it is structured.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from pydantic import BaseModel
from torch import nn

from autosft import (
    BuiltModel,
    ConfigError,
    DataSplit,
    ModelBuilder,
    PretrainingOptions,
    Splits,
    cache_file,
    class_counts,
    fit_on_source,
    inverse_frequency,
    seeded,
    single_thread,
    state_key,
)
from autosft import pretrained_state as cached_pretrained_state

__all__ = ["PretrainedTabularBuilder", "feature_count"]

logger = logging.getLogger(__name__)

_ANNOUNCED: set[tuple[str, str]] = set()


class PretrainedTabularBuilder(ModelBuilder):
    """A tabular backbone pre-trained on ``splits.pretrain`` when the loader gives one, else seeded at random.

    Subclasses set :attr:`cache_version` and :attr:`head_name` and implement :meth:`new_module` and
    :meth:`structure`; the weights cache lives under ``<cache root>/<name>/``.
    """

    #: Bumped whenever the architecture or the pre-training recipe changes, to orphan old cache files.
    cache_version: ClassVar[int]
    #: The output layer, whose ``bias`` ends in one entry per class (kept only when the classes match).
    head_name: ClassVar[str] = "head"

    @abstractmethod
    def new_module(self, options: BaseModel, splits: Splits, num_classes: int) -> nn.Module:
        """A randomly initialised module with ``num_classes`` outputs (called under a fixed seed)."""

    @abstractmethod
    def structure(self, module: nn.Module, *, pretrained: bool) -> BuiltModel:
        """``module`` with its layer groups, LoRA targets and head."""

    def build(self, options: BaseModel, splits: Splits, *, seed: int) -> BuiltModel:
        assert isinstance(options, PretrainingOptions)
        feature_count(self.name, splits.train, splits.input_kind)
        with seeded(seed):
            module = self.new_module(options, splits, splits.num_classes)
        pretrained = splits.pretrain is not None and len(splits.pretrain) > 0
        if pretrained:
            state = self.pretrained_state(options, splits, seed=seed)
            if state[f"{self.head_name}.bias"].shape[-1] != splits.num_classes:
                # The source task has other classes: keep the backbone, start the head fresh.
                state = {name: value for name, value in state.items() if not name.startswith(f"{self.head_name}.")}
            module.load_state_dict(state, strict=False)  # copies, so each build owns its weights
        elif (self.name, splits.fingerprint) not in _ANNOUNCED:
            _ANNOUNCED.add((self.name, splits.fingerprint))
            logger.info("%s: the dataset has no pretrain split; starting from random weights", self.name)
        return self.structure(module, pretrained=pretrained)

    def head_is_pretrained(self, options: BaseModel, splits: Splits) -> bool:
        """Pre-trained on the target's own label (the source rows hold no class the target lacks),
        the head :meth:`build` keeps already predicts the target: the model as is is a candidate."""
        pretrain = splits.pretrain
        return pretrain is not None and len(pretrain) > 0 and int(pretrain.labels.max()) < splits.num_classes

    def cache_key(self, options: PretrainingOptions, splits: Splits, seed: int) -> str:
        """What pre-trained weights depend on: data, architecture, recipe and seed (not the cache folder)."""
        return state_key(
            data=splits.fingerprint,
            recipe=options.model_dump(mode="json", exclude={"cache_dir"}),
            seed=seed,
            version=self.cache_version,
            in_features=feature_count(self.name, splits.train, splits.input_kind),
            classes=list(splits.class_names),
        )

    def cache_path(self, options: PretrainingOptions, splits: Splits, seed: int) -> Path:
        """The file holding the pre-trained ``state_dict`` for these options, data and seed."""
        return cache_file(self.name, self.cache_key(options, splits, seed), cache_dir=options.cache_dir)

    def pretrained_state(self, options: PretrainingOptions, splits: Splits, *, seed: int) -> dict[str, torch.Tensor]:
        """Pre-trained weights from memory, else from the file cache, else trained now and saved."""
        pretrain = splits.pretrain
        assert pretrain is not None
        if feature_count(self.name, pretrain, splits.input_kind) != feature_count(
            self.name, splits.train, splits.input_kind
        ):
            raise ConfigError(f"model {self.name} needs pretrain and train inputs with the same columns")
        return cached_pretrained_state(
            self.name,
            self.cache_key(options, splits, seed),
            lambda: self._pretrain(options, splits, pretrain, seed),
            cache_dir=options.cache_dir,
        )

    def _pretrain(
        self, options: PretrainingOptions, splits: Splits, data: DataSplit, seed: int
    ) -> dict[str, torch.Tensor]:
        """Supervised pre-training on the source population, deterministic under ``seed``.

        Class-weighted cross-entropy, because the source population is as imbalanced as the target
        and an unweighted loss would pre-train a backbone that only knows the majority class.
        """
        inputs = torch.tensor(np.asarray(data.inputs, dtype=np.float32))
        labels = torch.tensor(np.asarray(data.labels, dtype=np.int64))
        classes = max(splits.num_classes, int(labels.max()) + 1)
        weights = torch.tensor(inverse_frequency(class_counts(data.labels, classes)), dtype=torch.float32)
        logger.info("%s: pre-training on %d source rows, %d epochs", self.name, len(labels), options.pretrain_epochs)
        with single_thread(), seeded(seed):  # dropout draws from the global RNG; keep the caller's
            module = self.new_module(options, splits, classes)
            return fit_on_source(module, options, inputs, labels, seed=seed, class_weights=weights)


def feature_count(model: str, split: DataSplit, input_kind: str) -> int:
    """Columns of a 2-D tabular split; anything else is a :class:`ConfigError` naming ``model``."""
    shape = getattr(split.inputs, "shape", None)
    if input_kind != "tabular" or shape is None or len(shape) != 2:
        raise ConfigError(
            f"model {model} needs 2-D tabular inputs, but the dataset gives input_kind {input_kind!r}"
            f"{'' if shape is None else f' with shape {tuple(shape)}'}"
        )
    return int(shape[1])
