"""The package as a plugin: its entry point, what it registers, a light import, and the shipped study."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import autosft_healthcare_imaging

from autosft.config import load_study_file
from autosft.testing import registry_of

STUDY = Path(__file__).resolve().parents[3] / "studies" / "healthcare-imaging.yaml"


def test_the_entry_point_names_the_package() -> None:
    found = {point.name: point.value for point in entry_points(group="autosft")}
    assert found.get("healthcare_imaging") == "autosft_healthcare_imaging"


def test_registers_its_components_through_the_hooks() -> None:
    registry = registry_of(
        autosft_healthcare_imaging, "healthcare_imaging"
    )  # also checks every hookimpl matches a spec

    assert registry.datasets.names() == []  # the image loaders are domain-neutral: autosft registers them
    assert registry.models.names() == []  # hf_image_classifier is domain-neutral: autosft registers it
    assert registry.augmentations.names() == [
        "flip_h", "flip_hv", "affine", "resized_crop", "brightness_contrast", "gaussian_noise", "basic_policy",
        "image_mixup", "cutmix",
    ]  # fmt: skip
    assert registry.imbalance.names() == []  # class weights, focal loss and oversampling are core strategies
    assert registry.metrics.names() == [
        "sensitivity_at_specificity_90", "specificity_at_sensitivity_90", "sensitivity", "specificity",
        "worst_class_recall", "ece",
    ]  # fmt: skip
    for table in registry.tables():
        assert set(table.by_plugin()) <= {"healthcare_imaging"}
        assert all(getattr(component, "description", "") for component in table.values())


def test_importing_the_plugin_loads_no_heavy_library() -> None:
    code = (
        "import sys, autosft_healthcare_imaging; "
        "heavy = {'torch', 'PIL', 'kornia', 'transformers', 'sklearn'} & set(sys.modules); "
        "print(sorted(heavy)); sys.exit(bool(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_shipped_study_is_valid() -> None:
    study = load_study_file(STUDY)
    assert study.dataset.name == "image_npz" and study.model.name == "hf_image_classifier"
    assert study.objectives[0].metric == "roc_auc"
