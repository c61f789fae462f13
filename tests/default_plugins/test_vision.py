"""The built-in image components with autosft alone: a study on an npz file with ``hf_image_classifier``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pytest

from autosft import get_plugin_manager, run_search
from autosft.config import parse_study


def save_squares(path: Path, rows: int = 96, size: int = 12, seed: int = 0) -> Path:
    """Grey uint8 images of noise; class 1 has a bright block in its top half, class 0 in its bottom half."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.5).astype(np.uint8)
    images = rng.integers(0, 80, size=(rows, size, size)).astype(np.uint8)
    top = labels == 1
    images[top, 1 : size // 2, 2:-2] += 160
    images[~top, size // 2 : -1, 2:-2] += 160
    parts = dict(zip(("train", "val", "test"), np.split(np.arange(rows), [rows // 2, 3 * rows // 4]), strict=True))
    arrays = {f"{name}_{kind}": values[rows_of] for name, rows_of in parts.items()
              for kind, values in (("images", images), ("labels", labels))}  # fmt: skip
    np.savez(path, **arrays)
    return path


@pytest.mark.usefixtures("only_autosft")
def test_an_image_study_on_an_npz_file_runs_end_to_end_without_a_domain_plugin(tmp_path: Path) -> None:
    archive = save_squares(tmp_path / "squares.npz")
    tiny_resnet = {"model_type": "resnet", "embedding_size": 8, "hidden_sizes": [8, 16], "depths": [1, 1]}
    config = parse_study(
        {
            "name": "squares",
            "task": "binary",
            "dataset": {"name": "image_npz", "options": {"path": str(archive)}},
            "model": {"name": "hf_image_classifier", "options": {"from_config": tiny_resnet}},
            "objective": {"metric": "roc_auc"},
            "budget": {"n_trials": 2, "max_epochs": 2},
            "storage": f"sqlite:///{tmp_path / 'study.db'}",
            "seed": 0,
        },
        where="test",
    )
    outcome = run_search(config, manager=get_plugin_manager())
    assert len(outcome.study.get_trials(states=[optuna.trial.TrialState.COMPLETE])) == 2
    splits = outcome.prepared.splits
    assert splits.input_kind == "image" and splits.train.inputs.shape[1:] == (1, 12, 12)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (48, 24, 24)
    assert outcome.final_test is not None
    assert 0.0 <= outcome.final_test["test_metrics"]["roc_auc"] <= 1.0
