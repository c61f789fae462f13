"""``hf_image_classifier`` models (a CNN and a ViT) export to ONNX (``autosft export --onnx``) and
onnxruntime scores every test image as torch does."""

from __future__ import annotations

from pathlib import Path

import pytest
from imaging_helpers import write_npz

from autosft.config import parse_study
from autosft.default_plugins.vision.model import HFImageClassifier, HFImageClassifierOptions
from autosft.plugins import get_plugin_manager
from autosft.search.prepare import prepare_study
from autosft.testing import check_onnx_export


@pytest.mark.parametrize("kind", ["resnet", "vit"])
def test_image_classifier_exports_to_onnx(tmp_path: Path, pretrained_dir: dict[str, Path], kind: str) -> None:
    study = {
        "name": "imaging-onnx",
        "task": "binary",
        "dataset": {"name": "image_npz", "options": {"path": str(write_npz(tmp_path / "tiny.npz", counts=(24, 8, 40))),
                                                     "class_names": ["healthy", "sick"]}},
        "model": {"name": "hf_image_classifier", "options": {"name_or_path": str(pretrained_dir[kind])}},
        "objective": {"metric": "roc_auc"},
    }  # fmt: skip
    splits = prepare_study(parse_study(study, where="test"), get_plugin_manager()).splits
    options = HFImageClassifierOptions(name_or_path=str(pretrained_dir[kind]))
    module = HFImageClassifier().build(options, splits, seed=0).module
    record = check_onnx_export(module, splits.test, tmp_path / "onnx")
    assert record["check_rows"] == 40 and record["inputs"]["input"]["dynamic_axes"] == {0: "batch"}
