"""A tiny local BERT fine-tuned through the plugin and the real engine: full, freeze and LoRA; the
frozen-prefix activation cache gives the same training as the whole model and falls back where it must;
multilabel trains; ``autosft search`` runs end to end and refuses a bad table in one line.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from legal_helpers import clauses, write_table

from autosft.config import parse_study
from autosft.contracts import TrialPlan
from autosft.engine.cache import activation_cache
from autosft.engine.data import to_device_split
from autosft.engine.device import pick_device
from autosft.engine.job import TrainedModel
from autosft.engine.loop import predict, train
from autosft.engine.trial import training_job
from autosft.plugins import get_plugin_manager
from autosft.search.prepare import PreparedStudy, prepare_study

CPU = pick_device("cpu")
PLAN = TrialPlan(
    learning_rate=3e-3, batch_size=16, epochs=3, warmup_ratio=0.0, weight_decay=0.01, dropout=0.1,
    label_smoothing=0.0, patience=5, adaptation="full", seed=0,
)  # fmt: skip
AUTOSFT = shutil.which("autosft")


def _study(table: Path, model: Path, task: str = "binary", **dataset: Any) -> dict[str, Any]:
    return {
        "name": "legal-test",
        "task": task,
        "dataset": {"name": "text_table", "options": {"path": str(table), "group_column": "doc",
                    "label_columns": ["unfair" if task == "binary" else "labels"], **dataset}},
        "model": {"name": "hf_text_classifier", "options": {"name_or_path": str(model), "max_length": 32}},
        "objective": {"metric": "f1" if task == "binary" else "f1_macro"},
        "budget": {"n_trials": 3, "max_epochs": 3},
    }  # fmt: skip


@pytest.fixture(scope="module")
def prepared(tiny_bert: Path, clauses_csv: Path) -> PreparedStudy:
    return prepare_study(parse_study(_study(clauses_csv, tiny_bert), where="test"), get_plugin_manager())


def _train(
    prepared: PreparedStudy, *, cache: bool = True, **changes: Any
) -> tuple[dict[str, torch.Tensor], TrainedModel]:
    plan = dataclasses.replace(PLAN, **changes)
    job = dataclasses.replace(training_job(prepared, plan, CPU), cache_activations=cache)
    before = {name: value.detach().clone() for name, value in job.built.module.state_dict().items()}
    return before, train(job)


def _changed(before: dict[str, torch.Tensor], trained: TrainedModel, prefix: str) -> bool:
    after = trained.module.state_dict()
    return any(not torch.equal(value, after[name]) for name, value in before.items() if name.startswith(prefix))


def test_text_is_tokenized_once_for_every_split(prepared: PreparedStudy) -> None:
    inputs = prepared.splits.train.inputs
    assert set(inputs) == {"input_ids", "attention_mask", "token_type_ids"} and inputs["input_ids"].shape[1] <= 32
    assert prepared.space.dimensions["freeze_depth"].high == 4  # embeddings + 3 layers; the head always trains
    assert prepared.space.dimensions["augmentation"].choices == ("none", "token_deletion", "token_swap")


def test_full_fine_tuning_learns_the_unfair_words(prepared: PreparedStudy) -> None:
    before, trained = _train(prepared, epochs=4, learning_rate=1e-2)
    assert _changed(before, trained, "bert.embeddings") and _changed(before, trained, "bert.encoder.layer.0")
    history = trained.result.history
    assert history[-1]["train_loss"] < history[0]["train_loss"] and history[-1]["roc_auc"] > 0.9
    assert not trained.result.notes
    # Per-class metrics exist for the study's two classes only, never as undefined extras.
    assert {"f1_class_0", "f1_class_1"} <= trained.result.metrics.keys()
    assert not {name for name in trained.result.metrics if name.endswith(("_class_2", "_class_7"))}


def test_freezing_trains_only_the_unfrozen_groups_on_cached_activations(prepared: PreparedStudy) -> None:
    before, trained = _train(prepared, adaptation="freeze", freeze_depth=3)
    assert not _changed(before, trained, "bert.embeddings") and not _changed(before, trained, "bert.encoder.layer.1")
    assert _changed(before, trained, "bert.encoder.layer.2") and _changed(before, trained, "classifier")
    assert trained.result.notes == ["trained on cached activations of layer groups 1-3"]


def test_lora_trains_adapters_and_head_only(prepared: PreparedStudy) -> None:
    _, trained = _train(prepared, adaptation="lora", learning_rate=1e-2, lora_targets="query_key_value", lora_rank=4)
    state = trained.module.state_dict()
    assert any("lora_A" in name and "attention.self.key" in name for name in state)
    assert trained.result.trainable_parameters < trained.result.total_parameters / 3
    assert not trained.result.notes and np.isfinite(trained.result.metrics["f1"])


@pytest.mark.parametrize(
    ("changes", "cached_groups"),
    [
        ({"adaptation": "freeze", "freeze_depth": 2}, 2),
        ({"adaptation": "freeze", "freeze_depth": 4, "dropout": 0.3, "imbalance": "oversample"}, 4),
        ({"adaptation": "freeze", "freeze_depth": 3, "unfreeze_every": 1}, 1),  # thaws two groups: one stays frozen
    ],
)
def test_the_activation_cache_trains_exactly_like_the_whole_model(
    prepared: PreparedStudy, changes: dict[str, Any], cached_groups: int
) -> None:
    _, cached = _train(prepared, **changes)
    _, whole = _train(prepared, cache=False, **changes)
    assert cached.result.notes[0] == f"trained on cached activations of layer groups 1-{cached_groups}"
    assert not any(note.startswith("trained on cached") for note in whole.result.notes)
    # Rank metrics (ROC-AUC) of a barely trained model flip on float noise, so compare what they rank.
    losses = [[epoch["train_loss"] for epoch in run.result.history] for run in (cached, whole)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    for name, value in whole.module.state_dict().items():
        torch.testing.assert_close(cached.module.state_dict()[name], value, rtol=1e-4, atol=1e-5)
    val = to_device_split(prepared.splits.val, CPU.device)
    probabilities = [predict(run.module, val, CPU, "binary") for run in (cached, whole)]
    np.testing.assert_allclose(probabilities[0], probabilities[1], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "changes",
    [
        {"adaptation": "full"},
        {"adaptation": "lora", "lora_targets": "query_value"},
        {"adaptation": "freeze", "freeze_depth": 2, "augmentation": "token_deletion", "augmentation_strength": 0.5},
        {"adaptation": "freeze", "freeze_depth": 2, "unfreeze_every": 1},  # thaws both frozen groups
    ],
)
def test_trials_the_cache_cannot_serve_fall_back_to_the_whole_model(
    prepared: PreparedStudy, changes: dict[str, Any]
) -> None:
    _, trained = _train(prepared, epochs=3, **changes)
    assert not any(note.startswith("trained on cached") for note in trained.result.notes)
    assert activation_cache().lru_order() == []


def test_a_deeper_trial_starts_from_the_shallower_cached_depth(prepared: PreparedStudy) -> None:
    _train(prepared, adaptation="freeze", freeze_depth=2, epochs=2)
    _train(prepared, adaptation="freeze", freeze_depth=4, epochs=2)
    depths = sorted({key[-1] for key in activation_cache().lru_order()})  # type: ignore[index]
    assert depths == [2, 4] and {key[2] for key in activation_cache().lru_order()} == {"train", "val"}  # type: ignore[index]
    hits = activation_cache().hits
    _train(prepared, adaptation="freeze", freeze_depth=4, epochs=2, learning_rate=1e-3)
    assert activation_cache().hits == hits + 2  # train and validation rows served from the cache


def test_multilabel_clauses_train(tiny_bert: Path, tmp_path: Path) -> None:
    table = write_table(clauses(), tmp_path / "clauses.csv")
    study = _study(table, tiny_bert, "multilabel", empty_labels="keep")
    prepared = prepare_study(parse_study(study, where="test"), get_plugin_manager())
    assert prepared.splits.train.labels.shape[1] == 3
    _, trained = _train(prepared, epochs=4, learning_rate=1e-2)
    history = trained.result.history
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["roc_auc"] > max(0.65, history[0]["roc_auc"] + 0.1)
    assert 0 <= trained.result.metrics["f1_micro"] <= 1
    assert {"subset_accuracy", "f1_class_2", "f1_samples"} <= trained.result.metrics.keys()


def _autosft(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert AUTOSFT is not None
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AUTOSFT_CACHE_DIR": str(cwd / "cache"), "COLUMNS": "200"}
    return subprocess.run([AUTOSFT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.skipif(AUTOSFT is None, reason="the autosft console script is not installed")
def test_autosft_search_runs_and_refuses_a_bad_table_in_one_line(tiny_bert: Path, tmp_path: Path) -> None:
    table = write_table(clauses(documents=10), tmp_path / "clauses.csv")
    study = {
        **_study(table, tiny_bert),
        "storage": f"sqlite:///{tmp_path / 'study.db'}",
        "budget": {"n_trials": 3, "max_epochs": 2},
        "search_space": {"adaptation": {"choices": ["freeze"]}},
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    done = _autosft("search", "study.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "3 complete" in done.stdout or "complete" in done.stdout
    frame = clauses(documents=10)
    frame.loc[5, "text"] = ""
    write_table(frame, table)
    refused = _autosft("search", "study.yaml", cwd=tmp_path)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "have an empty text" in lines[0] and "row 5" in lines[0]
