"""Logistic regression and gradient-boosted trees on downscaled pixels of a tiny MedMNIST-style archive."""

from __future__ import annotations

from pathlib import Path

from imaging_helpers import write_npz

from autosft.config import parse_study
from autosft.default_plugins.references.features import IMAGE_SIDE, ImageLogistic
from autosft.evaluate.references import validate_references
from autosft.plugins import get_plugin_manager
from autosft.search.prepare import prepare_study


def test_pixel_references_are_scored_on_a_tiny_npz(tmp_path: Path, pretrained_dir: dict[str, Path]) -> None:
    data = write_npz(tmp_path / "tiny.npz", counts=(60, 30, 30))
    study = {
        "name": "imaging-references", "task": "binary", "storage": "sqlite:///unused.db",
        "dataset": {"name": "image_npz", "options": {"path": str(data), "class_names": ["healthy", "sick"],
                                                      "image_size": 32}},
        "model": {"name": "hf_image_classifier", "options": {"name_or_path": str(pretrained_dir["resnet"])}},
        "objective": {"metric": "roc_auc"},
    }  # fmt: skip
    prepared = prepare_study(parse_study(study, where="test"), get_plugin_manager())
    record, _ = validate_references(prepared)
    for name in ("pixels_logistic_regression", "pixels_hist_gradient_boosting"):
        assert record["validation"][name]["roc_auc"] > 0.8, record  # the classes differ visibly
    assert "tfidf_logistic_regression" not in record["validation"]
    # 32x32 images are averaged down to 16x16 before the estimators see them.
    assert ImageLogistic().features(prepared.splits.val.inputs[:2]).shape == (2, IMAGE_SIDE * IMAGE_SIDE)
