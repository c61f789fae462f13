"""Contracts of the components plugins register: datasets, model builders, augmentations,
imbalance strategies and metrics.

A plugin subclasses (or, for metrics, instantiates) these and hands instances to the ``register``
callback of the matching ``autosft_register_*`` hook. The engine only ever talks to these
interfaces, which is what lets a tabular MLP, a text encoder and an image backbone share one
training loop. Torch is imported only for type checking so that listing plugins stays instant.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from autosft.config import TASK_TYPES, TaskType
from autosft.contracts import TrialPlan

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "SKEW_FOR_CLASS_WEIGHTS",
    "TASK_TYPES",
    "Augmentation",
    "BuiltModel",
    "DataSplit",
    "DatasetLoader",
    "ImbalanceStrategy",
    "InputEncoder",
    "LoaderExample",
    "LossFunction",
    "Metric",
    "ModelBuilder",
    "NewRows",
    "NoOptions",
    "SliceOptions",
    "SplitOptions",
    "Splits",
    "StagedForward",
    "TaskType",
    "class_counts",
    "is_skewed",
]

#: ``loss(logits, targets) -> scalar``; targets are per-class probabilities (soft labels), so
#: label smoothing and mixup need no special case in any loss.
LossFunction = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]


class NoOptions(BaseModel):
    """Options model for components that take none; rejects any key given."""

    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


class SplitOptions(BaseModel):
    """Options of loaders that divide their rows into train, validation and test splits.

    Subclass it for a loader's options; redeclare a field to change its default.
    """

    model_config = ConfigDict(extra="forbid")

    val_fraction: float = Field(default=0.2, gt=0, lt=1, description="Share of rows for validation.")
    test_fraction: float = Field(default=0.2, gt=0, lt=1, description="Share of rows for the final test.")
    split_seed: int | None = Field(default=None, ge=0, description="Seed of the split; defaults to the study seed.")

    @model_validator(mode="after")
    def _room_for_train(self) -> SplitOptions:
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(
                "`val_fraction + test_fraction < 1` must hold, but got "
                f"val_fraction={self.val_fraction}, test_fraction={self.test_fraction}"
            )
        return self


class SliceOptions(BaseModel):
    """Options of loaders that keep group columns beside the inputs, in :attr:`Splits.slices`.

    Mix it into a loader's options to support a study's ``slices``: autosft fills ``slice_columns``
    from ``slices.columns``. The loader must keep those columns out of the features (a slice column
    that is also a feature is a :class:`autosft.ConfigError`), and raise :class:`autosft.DataError`
    for one the data lacks.
    """

    slice_columns: list[str] = Field(
        default_factory=list, description="Group columns kept beside the inputs, not as features (from `slices`)."
    )


@dataclass(frozen=True)
class DataSplit:
    """One split: inputs and labels with the same number of rows.

    ``inputs`` is a float/int array (rows first) or a mapping of such arrays (e.g. ``input_ids`` and
    ``attention_mask``). ``labels`` holds class indices for binary/multiclass, a 0/1 matrix of
    shape (rows, classes) for multilabel, and the index of the held-out item for ranking.
    ``groups``, where the data has them, names each row's group (a patient, a contract): rows of
    one group look alike, so cross-validation (``validation: {folds: k}``) keeps a group in one
    fold. A loader that splits by group sets it on every split (see :attr:`Splits.group_unit`).
    """

    inputs: Any
    labels: np.ndarray
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        rows = {len(self.labels)}
        if self.groups is not None:
            rows.add(len(self.groups))
        if isinstance(self.inputs, Mapping):
            rows |= {len(array) for array in self.inputs.values()}
        else:
            rows.add(len(self.inputs))
        if len(rows) != 1:
            raise ValueError(f"inputs and labels must have the same number of rows, got {rows}")

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Splits:
    """What a dataset loader returns: the three splits and what the engine must know about them.

    ``pretrain`` holds source-population rows a model builder may pre-train on; it never contains a
    row of the target's validation or test split. ``fingerprint`` identifies the data and loader
    options, so caches (pre-trained weights, tokenized inputs) are keyed by it. ``raw_inputs`` keeps
    each part's inputs as the loader gave them (e.g. texts) once a model's input encoder replaced
    them (token ids), for references that fit on raw inputs (TF-IDF); empty when nothing was encoded.
    ``slices`` maps a part (``"val"``, ``"test"``, optionally ``"train"``) to each requested slice column
    (:class:`SliceOptions`) and its values, one string per row of that part: groups the selected model
    is scored per, never inputs of the model; empty without a study's ``slices``.
    ``group_unit`` is what the splits' ``groups`` are ("patient"), as messages name them.
    """

    train: DataSplit
    val: DataSplit
    test: DataSplit
    task: TaskType
    class_names: tuple[str, ...]
    input_kind: str
    fingerprint: str
    pretrain: DataSplit | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
    raw_inputs: Mapping[str, Any] = field(default_factory=dict)
    slices: Mapping[str, Mapping[str, np.ndarray]] = field(default_factory=dict)
    group_unit: str = "group"

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class LoaderExample:
    """A tiny dataset a loader reads, for ``autosft plugins --check``: the task and the options (as a
    study file's ``dataset.options`` gives them) that load it."""

    task: TaskType
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewRows:
    """Rows of a new data file prepared by a study's loader (:meth:`DatasetLoader.load_new`).

    ``inputs`` are shaped like the study's splits' inputs before the model's input encoder (raw
    texts for text, preprocessed feature arrays for tables); ``labels`` like a split's labels, or
    ``None`` when the file has no labels. Tabular loaders also give each raw feature column
    (``features``: float arrays are numeric, object arrays categorical, NaN or ``None`` missing) and
    the same columns of the study's train split (``train_features``), for per-feature drift tests.
    """

    inputs: Any
    labels: np.ndarray | None = None
    features: Mapping[str, np.ndarray] = field(default_factory=dict)
    train_features: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.labels is not None and len(self.labels) != len(self):
            raise ValueError(
                f"inputs and labels must have the same number of rows, got {len(self)} and {len(self.labels)}"
            )

    def __len__(self) -> int:
        return len(next(iter(self.inputs.values()))) if isinstance(self.inputs, Mapping) else len(self.inputs)


class DatasetLoader(ABC):
    """A named way to turn options into checked train/validation/test splits."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: Pydantic model of the ``dataset.options`` mapping; use ``extra="forbid"``.
    Options: ClassVar[type[BaseModel]] = NoOptions

    @abstractmethod
    def load(self, options: BaseModel, *, task: TaskType, seed: int) -> Splits:
        """Read, check and split the data. Raise :class:`autosft.DataError` for unusable data."""

    def example(self, folder: Path) -> LoaderExample | None:
        """A tiny dataset for ``autosft plugins --check``: write any file it needs under ``folder`` (an
        empty temporary folder) and return what loads it. ``None`` (the default): the doctor loads
        the default options with the first task (binary, multiclass, multilabel, ranking) they load,
        and skips the loader when they do not validate (a path without a default).
        The doctor also builds the plugin's models on these splits.
        """
        return None

    def load_new(self, options: BaseModel, path: Path, *, task: TaskType, seed: int) -> NewRows:
        """Every row of ``path``, a file shaped like the study's own data, prepared as the study's rows are.

        ``options`` are the study's (they name its own file): preprocessing fitted on the study's
        train split (a scaler, a category encoder) is fitted there again and applied to the new
        rows, never refitted on them, or it would hide the very shift ``autosft drift`` looks for.
        Rows are neither split, subsampled nor dropped. Labels are read when the file has the
        label columns, as indices of the study's classes; otherwise ``NewRows.labels`` is ``None``.
        Raise :class:`autosft.DataError` for a missing, empty or unreadable file or a missing column.
        Loaders that cannot read new files keep this default, which says so in one line.
        """
        from autosft.errors import PluginError

        raise PluginError(f"dataset {self.name!r} cannot read new data files (it does not implement load_new)")


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputEncoder:
    """Turns a split's raw inputs (e.g. texts) into model inputs, once per study rather than per trial.

    ``encode(inputs)`` gets a split's ``inputs`` as the loader stored them and returns a mapping of
    arrays with one row per input (e.g. ``input_ids`` and ``attention_mask``). ``key`` names
    everything the result depends on besides the data (tokenizer, max length, truncation): the
    engine caches encoded splits under ``(key, data fingerprint)``, in memory and on disk. Inputs
    with an ``attention_mask`` are padded per batch to the longest row (dynamic padding) and batched
    by similar length.
    """

    key: str
    encode: Callable[[Any], Mapping[str, np.ndarray]]


#: ``run(module, inputs, state, start, stop)``: see :class:`StagedForward`.
StageRunner = Callable[["nn.Module", Any, "torch.Tensor | None", int, int], "torch.Tensor"]


@dataclass(frozen=True)
class StagedForward:
    """Runs a model one span of layer groups at a time, so the engine can cache frozen groups' output.

    ``run(module, inputs, state, start, stop)`` returns the output of layer group ``stop - 1`` given
    the batch's ``inputs`` and ``state``, the output of group ``start - 1`` (``None`` when
    ``start == 0``); with ``stop == len(layer_groups)`` it returns the logits. Its output for rows
    padded to any length must not depend on the padding, so cached activations can be trimmed per
    batch. ``key`` identifies the weights of every group but the head (e.g. the checkpoint path):
    activations are shared only between builds with the same key.
    :func:`autosft.engine.staging.hooked_stages` implements it for models whose groups run one
    after another.
    """

    key: str
    run: StageRunner


@dataclass
class BuiltModel:
    """A freshly built model and the structure the engine adapts.

    ``module(inputs)`` (or ``module(**inputs)`` for mapping inputs) returns logits of shape
    (batch, classes) or an object with a ``logits`` attribute; an ensemble may return (batch, members,
    classes) in training mode, each member then trained on the row's targets
    (:func:`autosft.engine.losses.member_loss`), and its combined (batch, classes) in eval mode.
    ``layer_groups`` lists qualified submodule names per group, ordered from the input side to the
    output side; the last group is the head and is never frozen. ``lora_targets`` maps a target-set
    name to peft ``target_modules``; ``head`` names the modules that stay fully trainable under LoRA
    (peft ``modules_to_save``).
    ``pretrained`` is false for randomly initialized weights: freezing or adapting random layers
    only wastes trials, so the search then offers full training alone. ``stages``, when given, lets
    a trial that freezes the first groups train on their cached output instead of recomputing it.
    """

    module: nn.Module
    layer_groups: list[list[str]]
    lora_targets: Mapping[str, list[str]] = field(default_factory=dict)
    head: list[str] = field(default_factory=list)
    pretrained: bool = True
    stages: StagedForward | None = None


class ModelBuilder(ABC):
    """A named way to build a (usually pre-trained) model for given splits."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type[BaseModel]] = NoOptions
    #: Search prior for full and freeze fine-tuning: (low, default, high); LoRA uses ten times it.
    learning_rate: ClassVar[tuple[float, float, float]] = (1e-5, 5e-5, 1e-3)
    #: Batch sizes the search chooses from.
    batch_sizes: ClassVar[tuple[int, ...]] = (16, 32, 64)
    default_batch_size: ClassVar[int] = 32
    #: The options (as a study file's ``model.options``) ``autosft plugins --check`` builds with;
    #: empty: the defaults. Set it when an option has no default (a checkpoint to load).
    example_options: ClassVar[Mapping[str, Any]] = MappingProxyType({})

    @abstractmethod
    def build(self, options: BaseModel, splits: Splits, *, seed: int) -> BuiltModel:
        """Return a new model for ``splits``; each call must return independent weights."""

    def input_encoder(self, options: BaseModel, splits: Splits) -> InputEncoder | None:
        """How raw inputs become model inputs (a tokenizer), or ``None`` when the loader's inputs fit as they are.

        Called once when a study is prepared, before the first :meth:`build`; every build then sees
        the encoded splits. Raise :class:`autosft.ConfigError` for options the data cannot meet.
        """
        return None

    def head_is_pretrained(self, options: BaseModel, splits: Splits) -> bool:
        """Whether :meth:`build` returns a model that already predicts this task, its head pre-trained
        on the same label: the model as is is then a reference and a starting trial of zero epochs
        (:mod:`autosft.references`). ``False`` by default: a head made for the target starts random.
        """
        return False

    def training_loss(
        self, options: BaseModel, splits: Splits, plan: TrialPlan, *, device: torch.device
    ) -> LossFunction | None:
        """The loss a trial trains with, or ``None`` for the task's default cross-entropy.

        For models whose training objective is itself a choice (e.g. a recommender trained with
        full softmax, sampled softmax or BPR, with a number of negatives from ``plan.extra``).
        An imbalance strategy's loss, where one is chosen, still takes precedence.
        """
        return None


# --------------------------------------------------------------------------------------------
# Training-time strategies
# --------------------------------------------------------------------------------------------


class Augmentation(ABC):
    """A batch transform applied on the training device, tuned by a strength in [0, 1]."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: Input kinds (``Splits.input_kind``) this augmentation understands.
    input_kinds: ClassVar[frozenset[str]]
    #: Offered only when a study names it in ``search_space.augmentation`` (e.g. vertical flips,
    #: which are wrong for most medical images).
    opt_in: ClassVar[bool] = False

    @abstractmethod
    def apply(
        self,
        inputs: Any,
        targets: torch.Tensor,
        *,
        strength: float,
        generator: torch.Generator,
    ) -> tuple[Any, torch.Tensor]:
        """Return augmented ``(inputs, targets)``; targets are soft labels (batch, classes)."""


class ImbalanceStrategy:
    """How training counters class imbalance; each method's default leaves training unchanged.

    A strategy resamples the training split, weights the batch sampler, or replaces the loss, in
    any combination.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: Input kinds it applies to; ``None`` means any.
    input_kinds: ClassVar[frozenset[str] | None] = None
    #: Task types it applies to.
    task_types: ClassVar[frozenset[str]] = frozenset({"binary", "multiclass"})

    def resample(self, split: DataSplit, *, seed: int) -> DataSplit:
        """Return the training split to use (e.g. with synthetic minority rows)."""
        return split

    def sampling_weights(self, labels: np.ndarray) -> np.ndarray | None:
        """Per-row sampling weights for the batch sampler, or ``None`` for uniform shuffling."""
        return None

    def loss(self, *, class_counts: np.ndarray, task: TaskType, device: torch.device) -> LossFunction | None:
        """A loss replacing the default cross-entropy, or ``None`` to keep it; tensors go on ``device``."""
        return None


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """A named score of predicted class probabilities against labels.

    ``compute(labels, probabilities)`` gets labels as stored in :class:`DataSplit` and
    probabilities of shape (rows, classes). ``min_classes`` keeps a metric of one class (e.g. the
    F1 of class index 3) out of studies with fewer classes, where it could only be undefined.
    ``per_row``, for a metric that is a mean over rows (accuracy, NDCG), gives each row's term, so
    ``compute`` equals its mean: a bootstrap interval then resamples those terms instead of
    recomputing the metric on every resample (on a ranking study's (rows, catalogue) scores, a
    thousand recomputations cost 20 s; a thousand means, milliseconds).
    """

    name: str
    direction: Literal["maximize", "minimize"]
    compute: Callable[[np.ndarray, np.ndarray], float]
    task_types: frozenset[str]
    description: str = ""
    min_classes: int = 0
    per_row: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None


def class_counts(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows per class, for single-label index arrays and multilabel 0/1 matrices alike."""
    if labels.ndim == 2:
        return labels.sum(axis=0).astype(np.int64)
    return np.bincount(labels.astype(np.int64), minlength=num_classes)


#: A single-label split whose commonest class outnumbers its rarest this many times or more is
#: "skewed": the search starts it from class weighting, and the references weight classes too.
#: Unweighted, a rare class is seldom predicted at the argmax, so its F1 stays near 0 in the first
#: epochs (every early pruning decision a coin toss), and a reference's F1 understates it.
SKEW_FOR_CLASS_WEIGHTS = 3.0


def is_skewed(labels: np.ndarray, num_classes: int) -> bool:
    """Whether single-label ``labels`` are skewed (:data:`SKEW_FOR_CLASS_WEIGHTS`); multilabel never is."""
    if labels.ndim != 1 or not len(labels):
        return False
    counts = class_counts(labels, num_classes)
    return bool(counts.max() >= SKEW_FOR_CLASS_WEIGHTS * max(counts.min(), 1))
