"""The plugin through the real ``autosft`` console script: bad images refused in one line with exit 2,
and a BreastMNIST smoke search on the shared data.

Every test runs the installed console script in a subprocess with its study in a temporary SQLite
file; nothing is mocked.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from imaging_helpers import write_manifest, write_npz, write_tree

REPO = Path(__file__).resolve().parents[3]
STUDY = REPO / "studies" / "healthcare-imaging.yaml"
BREASTMNIST = REPO.parent / "shared" / "data" / "healthcare" / "breastmnist" / "breastmnist.npz"
AUTOSFT = shutil.which("autosft")

pytestmark = pytest.mark.skipif(AUTOSFT is None, reason="the autosft console script is not installed")

TREE = {"train": {"healthy": 6, "sick": 4}, "val": {"healthy": 3, "sick": 2}, "test": {"healthy": 3, "sick": 2}}


def _autosft(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    assert AUTOSFT is not None
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AUTOSFT_CACHE_DIR": str(cwd / "cache"), "COLUMNS": "200"}
    return subprocess.run(
        [AUTOSFT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _truncated_png(folder: Path) -> tuple[dict[str, object], list[str]]:
    root = write_tree(folder / "tree", TREE)
    victim = root / "train" / "sick" / "2.png"
    victim.write_bytes(victim.read_bytes()[:60])
    return {"name": "image_folder", "options": {"root": str(root)}}, ["train/sick/2.png'", "cannot be decoded"]


def _missing_manifest_image(folder: Path) -> tuple[dict[str, object], list[str]]:
    write_tree(folder / "tree", TREE)
    rows = [{"path": f"tree/train/healthy/{index}.png", "label": "healthy"} for index in range(6)]
    rows.append({"path": "tree/train/sick/gone.png", "label": "sick"})
    manifest = write_manifest(folder / "manifest.csv", rows)
    return {"name": "image_manifest", "options": {"path": str(manifest)}}, ["gone.png'", "line 8", "does not exist"]


def _label_outside_classes(folder: Path) -> tuple[dict[str, object], list[str]]:
    path = write_npz(folder / "data.npz", counts=(12, 6, 6))
    arrays = dict(np.load(path))
    arrays["test_labels"][2] = 4
    np.savez(path, **arrays)
    options = {"path": str(path), "class_names": ["benign", "malignant"]}
    return {"name": "image_npz", "options": options}, ["data.npz'", "test_labels row 2 holds label 4", "0..1"]


# One case per loader here (each is a full process start); the other bad inputs are tested in-process
# in test_imaging_loaders.py, through the same DataError the CLI prints.
BAD_INPUT: list[Callable[[Path], tuple[dict[str, object], list[str]]]] = [
    _truncated_png,
    _missing_manifest_image,
    _label_outside_classes,
]


@pytest.mark.parametrize("make", BAD_INPUT, ids=[make.__name__.strip("_") for make in BAD_INPUT])
def test_bad_input_is_one_line_naming_the_file(
    tmp_path: Path, make: Callable[[Path], tuple[dict[str, object], list[str]]]
) -> None:
    dataset, words = make(tmp_path)
    study = {
        "name": "bad-images",
        "task": "binary",
        "dataset": dataset,
        "model": {"name": "hf_image_classifier", "options": {"from_config": {"model_type": "resnet"}}},
        "objective": {"metric": "roc_auc"},
        "budget": {"n_trials": 1, "max_epochs": 1},
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    db = tmp_path / "q.db"
    result = _autosft("search", "study.yaml", "--storage", f"sqlite:///{db}", cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_breastmnist_smoke_search(tmp_path: Path) -> None:
    if not BREASTMNIST.is_file():
        pytest.skip(f"{BREASTMNIST} is absent (a fresh clone without ../shared); it is present in CI")
    study = yaml.safe_load(STUDY.read_text())
    study["dataset"]["options"]["path"] = str(BREASTMNIST)
    study["budget"] = {"n_trials": 2, "max_epochs": 3}
    study["search_space"].pop("epochs")
    (tmp_path / "smoke.yaml").write_text(yaml.safe_dump(study))
    result = _autosft("search", "smoke.yaml", "--storage", f"sqlite:///{tmp_path / 'q.db'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    held_out = next(line for line in result.stdout.splitlines() if line.startswith("held-out test:"))
    found = re.search(r"\broc_auc=([0-9.]+)", held_out)
    assert found and float(found.group(1)) > 0.6, held_out
    for name in ("sensitivity_at_specificity_90", "specificity_at_sensitivity_90", "ece", "balanced_accuracy"):
        assert f"{name}=" in held_out
