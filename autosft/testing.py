"""Test helpers for autosft and plugin authors: a tiny real dataset and model, and pytest fixtures.

``save_tiny_bert`` saves a tiny random BERT classifier and its tokenizer for text tests.
``doctor_findings`` runs ``autosft plugins --check`` on one plugin, and ``tiny_splits`` (with
``tiny_labels``, ``tiny_probabilities`` and ``tiny_batch_inputs``) generates the doctor's few rows of
each input kind. ``ToyPlugin`` registers ``toy_blobs`` (Gaussian class clusters, binary or multiclass, with an
optional pre-training population) and ``toy_mlp`` (a small MLP with layer groups and LoRA targets).
Both are real components: studies on them run the whole engine in a second or two per trial.
Use the fixtures with ``pytest_plugins = ["autosft.testing"]`` in a ``conftest.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pluggy
import pytest
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from autosft import hookspecs
from autosft.components import BuiltModel, DatasetLoader, DataSplit, ModelBuilder, Splits, TaskType
from autosft.doctor import Finding, check_plugins, tiny_batch_inputs, tiny_labels, tiny_probabilities, tiny_splits
from autosft.errors import ConfigError
from autosft.hookspecs import PROJECT_NAME, hookimpl
from autosft.plugins import check_hook_names, get_plugin_manager
from autosft.registry import Registry, collect_registry

__all__ = [
    "BERT_SPECIALS", "Finding", "ToyBlobs", "ToyMLP", "ToyPlugin", "check_onnx_export", "doctor_findings",
    "registry_of", "save_tiny_bert", "tiny_batch_inputs", "tiny_labels", "tiny_probabilities", "tiny_splits",
    "toy_manager", "toy_study",
]  # fmt: skip


class ToyBlobs(DatasetLoader):
    name = "toy_blobs"
    description = "Gaussian class clusters; a shifted copy serves as the pre-training population."

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        rows: int = Field(default=400, ge=30)
        features: int = Field(default=6, ge=1)
        classes: int = Field(default=2, ge=2)
        positive_rate: float = Field(default=0.3, gt=0, lt=1, description="Binary only: share of class 1.")
        separation: float = Field(default=1.5, gt=0)
        pretrain_rows: int = Field(default=0, ge=0)

    def load(self, options: BaseModel, *, task: TaskType, seed: int) -> Splits:
        assert isinstance(options, ToyBlobs.Options)
        if task == "multilabel":
            raise ConfigError("toy_blobs generates single-label data; use task binary or multiclass")
        rng = np.random.default_rng(seed)
        centers = rng.normal(0, options.separation, size=(options.classes, options.features))

        def sample(rows: int, shift: float) -> DataSplit:
            if options.classes == 2:
                labels = (rng.random(rows) < options.positive_rate).astype(np.int64)
            else:
                labels = rng.integers(0, options.classes, rows)
            inputs = centers[labels] + shift + rng.normal(0, 1, size=(rows, options.features))
            return DataSplit(inputs.astype(np.float32), labels)

        train, val, test = (sample(rows, 0.0) for rows in (options.rows, options.rows // 2, options.rows // 2))
        pretrain = sample(options.pretrain_rows, 0.3) if options.pretrain_rows else None
        digest = hashlib.sha256(json.dumps([options.model_dump(), seed]).encode()).hexdigest()[:16]
        names = tuple(f"class_{index}" for index in range(options.classes))
        return Splits(train, val, test, task, names, "tabular", digest, pretrain)


class ToyMLP(ModelBuilder):
    name = "toy_mlp"
    description = "A small MLP: input layer, hidden blocks, head."
    learning_rate = (1e-4, 3e-3, 3e-2)
    batch_sizes = (16, 32, 64)
    default_batch_size = 32

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        hidden: int = Field(default=16, ge=2)
        blocks: int = Field(default=2, ge=1)

    def build(self, options: BaseModel, splits: Splits, *, seed: int) -> BuiltModel:
        assert isinstance(options, ToyMLP.Options)
        torch.manual_seed(seed)
        module = _ToyNet(splits.train.inputs.shape[1], options.hidden, options.blocks, splits.num_classes)
        groups = [["input"], *([f"blocks.{index}"] for index in range(options.blocks)), ["head"]]
        hidden_linears = [f"blocks.{index}.0" for index in range(options.blocks)]
        return BuiltModel(module, groups, {"all": ["input.0", *hidden_linears], "hidden": hidden_linears}, ["head"])


class _ToyNet(nn.Module):
    def __init__(self, features: int, hidden: int, blocks: int, classes: int) -> None:
        super().__init__()
        self.input = self._block(features, hidden)
        self.blocks = nn.ModuleList(self._block(hidden, hidden) for _ in range(blocks))
        self.head = nn.Linear(hidden, classes)

    @staticmethod
    def _block(width_in: int, width_out: int) -> nn.Sequential:
        return nn.Sequential(nn.Linear(width_in, width_out), nn.ReLU(), nn.Dropout(0.1))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden = self.input(inputs)
        for block in self.blocks:
            hidden = block(hidden)
        return self.head(hidden)


class ToyPlugin:
    """Registers the toy dataset and model; pass it to ``get_plugin_manager(plugins=...)``."""

    @hookimpl
    def autosft_register_datasets(self, register: Callable[[DatasetLoader], None]) -> None:
        register(ToyBlobs())

    @hookimpl
    def autosft_register_models(self, register: Callable[[ModelBuilder], None]) -> None:
        register(ToyMLP())


def _alone(plugin: object, name: str) -> pluggy.PluginManager:
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(plugin, name=name)
    check_hook_names(manager)
    return manager


def registry_of(plugin: object, name: str) -> Registry:
    """What ``plugin`` alone registers; a hook implementation that matches no spec fails here."""
    return collect_registry(_alone(plugin, name))


def doctor_findings(plugin: object, name: str) -> list[Finding]:
    """What ``autosft plugins --check`` finds on ``plugin`` alone, registered as ``name``; a plugin's
    tests assert ``not [finding for finding in doctor_findings(...) if finding.failed]``."""
    return list(check_plugins(_alone(plugin, name), [name]))


def toy_manager(*extra_plugins: object) -> pluggy.PluginManager:
    """A plugin manager with the built-ins, the toy plugin and ``extra_plugins``, no installed ones."""
    return get_plugin_manager(load_entry_points=False, plugins=(ToyPlugin(), *extra_plugins))


def toy_study(storage: str, **overrides: Any) -> dict[str, Any]:
    """A small, fast study mapping on the toy components; ``overrides`` replace top-level keys."""
    study: dict[str, Any] = {
        "name": "toy",
        "task": "binary",
        "dataset": {"name": "toy_blobs", "options": {"rows": 300}},
        "model": {"name": "toy_mlp"},
        "objective": {"metric": "roc_auc"},
        "budget": {"n_trials": 4, "max_epochs": 3},
        "storage": storage,
        "seed": 0,
    }
    study.update(overrides)
    return study


#: The special tokens of :func:`save_tiny_bert`'s WordPiece vocabulary, before the words.
BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def save_tiny_bert(folder: Path, words: Sequence[str], *, layers: int = 3, positions: int = 64) -> Path:
    """A randomly initialized BERT classifier whose tokenizer knows only ``words``, saved as a hub
    download would be: what ``hf_text_classifier`` tests load with ``name_or_path: <folder>``."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    vocabulary = {word: index for index, word in enumerate([*BERT_SPECIALS, *words])}
    BertTokenizer(vocab=vocabulary).save_pretrained(folder)
    config = BertConfig(vocab_size=len(vocabulary), hidden_size=16, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=positions)  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        BertForSequenceClassification(config).save_pretrained(folder)
    return folder


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite study database in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'study.db'}"


def check_onnx_export(module: nn.Module, split: DataSplit, folder: Path, *, chunk_rows: int = 17) -> dict[str, Any]:
    """Export ``module`` to ONNX and check onnxruntime against torch on every row of ``split``.

    The rows go in chunks of ``chunk_rows`` (shortest first for token inputs), so the graph meets
    batch sizes and widths it was not traced with. Returns the export's record.
    """
    from autosft.engine.data import in_length_order, to_device_split
    from autosft.engine.staging import model_logits
    from autosft.export.onnx import RELATIVE_TOLERANCE, export_onnx, onnx_logits, onnx_session

    folder.mkdir(parents=True, exist_ok=True)
    record = export_onnx(module, split, folder)
    assert record["max_relative_difference"] <= RELATIVE_TOLERANCE
    assert record["size_bytes"] == (folder / record["file"]).stat().st_size > 0 and record["cpu_latency_ms_per_row"] > 0
    session = onnx_session(folder / record["file"])
    module = module.cpu().eval()
    for _, inputs in in_length_order(to_device_split(split, torch.device("cpu")), chunk_rows):
        with torch.no_grad():
            expected = model_logits(module, inputs).float().numpy()
        got = onnx_logits(session, inputs)
        assert got.shape == expected.shape
        assert np.max(np.abs(got - expected)) <= RELATIVE_TOLERANCE * max(1.0, float(np.max(np.abs(expected))))
    return record
