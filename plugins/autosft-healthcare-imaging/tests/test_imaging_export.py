"""`autosft export` of Hugging Face image classifiers: written with ``save_pretrained``, reloaded by plain
transformers (and peft for the adapter), reproducing the exported test metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from imaging_helpers import write_npz

from autosft.config import parse_study
from autosft.engine.scoring import score
from autosft.export import export_study, load_model
from autosft.plugins import get_plugin_manager
from autosft.search.controller import run_search
from autosft.search.prepare import prepare_study


@pytest.fixture(scope="module")
def npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_npz(tmp_path_factory.mktemp("data") / "tiny.npz", counts=(48, 24, 24))


def _exported(folder: Path, data: Path, checkpoint: Path, adaptation: str, **export: bool) -> dict:
    """Search one trial of ``adaptation`` on the tiny images and export it; returns the study mapping."""
    study = {
        "name": "imaging-export",
        "task": "binary",
        "dataset": {"name": "image_npz", "options": {"path": str(data), "class_names": ["healthy", "sick"]}},
        "model": {"name": "hf_image_classifier", "options": {"name_or_path": str(checkpoint)}},
        "objective": {"metric": "roc_auc"},
        "budget": {"n_trials": 1, "max_epochs": 2},
        "search_space": {"adaptation": {"value": adaptation}, "batch_size": {"value": 16}},
        "storage": f"sqlite:///{folder / 'study.db'}",
    }
    run_search(parse_study(study, where="test"), manager=get_plugin_manager(), final_test=False)
    export_study(study["storage"], "imaging-export", folder / "export", resamples=20, **export)
    return study


def _probabilities(module: torch.nn.Module, study: dict, folder: Path) -> tuple[np.ndarray, np.ndarray, list]:
    """The test probabilities of a model reloaded by plain transformers/peft: its logits over the
    calibration temperature the export recorded in model.json (1 when it is not calibrated)."""
    temperature = json.loads((folder / "model.json").read_text())["temperature"]
    prepared = prepare_study(parse_study(study, where="test"), get_plugin_manager())
    test = prepared.splits.test
    with torch.no_grad():
        logits = module.eval()(torch.as_tensor(test.inputs, dtype=torch.float32)).logits
    return test.labels, torch.softmax(logits / temperature, dim=-1).double().numpy(), prepared.metrics


def _recorded(folder: Path) -> dict[str, float]:
    metrics = json.loads((folder / "test_metrics.json").read_text())["metrics"]
    return {name: interval["value"] for name, interval in metrics.items() if interval["value"] is not None}


def test_full_fine_tuning_exports_a_plain_transformers_model(
    tmp_path: Path, npz: Path, pretrained_dir: dict[str, Path]
) -> None:
    from transformers import AutoModelForImageClassification

    study = _exported(tmp_path, npz, pretrained_dir["resnet"], "full")
    folder = tmp_path / "export"
    assert json.loads((folder / "model.json").read_text())["format"] == "transformers"
    assert (folder / "model" / "config.json").is_file() and (folder / "model" / "model.safetensors").is_file()
    labels, probabilities, metrics = _probabilities(AutoModelForImageClassification.from_pretrained(folder / "model"),
                                                    study, folder)  # fmt: skip
    for name, value in _recorded(folder).items():
        assert score(metrics, labels, probabilities)[name] == pytest.approx(value, abs=1e-5), name
    saved = np.load(folder / "test_predictions.npz")["probabilities"]
    assert np.allclose(saved, probabilities, atol=1e-5)


def test_lora_exports_base_adapter_and_merged_weights(
    tmp_path: Path, npz: Path, pretrained_dir: dict[str, Path]
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForImageClassification

    study = _exported(tmp_path, npz, pretrained_dir["vit"], "lora", merge_lora=True)
    folder = tmp_path / "export"
    assert (folder / "adapter" / "adapter_config.json").is_file() and (folder / "base" / "config.json").is_file()
    merged = AutoModelForImageClassification.from_pretrained(folder / "merged")
    adapted = PeftModel.from_pretrained(AutoModelForImageClassification.from_pretrained(folder / "base"),
                                        folder / "adapter")  # fmt: skip
    saved = np.load(folder / "test_predictions.npz")["probabilities"]
    for module in (merged, adapted, load_model(folder), load_model(folder, merged=True)):
        _, probabilities, _ = _probabilities(module, study, folder)
        assert np.allclose(saved, probabilities, atol=1e-5)
