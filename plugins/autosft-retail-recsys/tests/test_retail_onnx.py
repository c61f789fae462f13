"""The ``next_item_transformer`` exports to ONNX (``autosft export --onnx``): the graph keeps every history
column and the seen-item mask, so onnxruntime scores batches of any size and longest history as torch does."""

from __future__ import annotations

from pathlib import Path

from retail_helpers import log_options

from autosft.config import parse_study
from autosft.contracts import TrialPlan
from autosft.plugins import get_plugin_manager
from autosft.search.prepare import prepare_study
from autosft.testing import check_onnx_export


def test_next_item_transformer_exports_to_onnx(tmp_path: Path, log_file: Path) -> None:
    study = {
        "name": "retail-onnx",
        "task": "ranking",
        "dataset": {"name": "interactions", "options": log_options(log_file, exclude_seen=True)},
        "model": {
            "name": "next_item_transformer",
            "options": {"dim": 16, "blocks": 2, "heads": 2, "pretrain_epochs": 1},
        },
        "objective": {"metric": "ndcg@10"},
    }
    prepared = prepare_study(parse_study(study, where="test"), get_plugin_manager())
    plan = TrialPlan(learning_rate=3e-3, batch_size=32, epochs=1, warmup_ratio=0.0, weight_decay=0.0, dropout=0.0,
                     label_smoothing=0.0, patience=1, adaptation="full", seed=0)  # fmt: skip
    record = check_onnx_export(prepared.build_model(plan).module, prepared.splits.test, tmp_path / "onnx")
    assert set(record["inputs"]) == {"items", "exclude_seen"}
