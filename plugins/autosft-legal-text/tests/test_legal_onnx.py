"""``hf_text_classifier`` exports to ONNX (``autosft export --onnx``) with dynamic batch and sequence axes,
and onnxruntime scores every test sentence, at every padded width, as torch does."""

from __future__ import annotations

from pathlib import Path

from autosft.config import parse_study
from autosft.plugins import get_plugin_manager
from autosft.search.plan import TrialPlan
from autosft.search.prepare import prepare_study
from autosft.testing import check_onnx_export


def test_text_classifier_exports_to_onnx(tmp_path: Path, tiny_bert: Path, clauses_csv: Path) -> None:
    study = {
        "name": "legal-onnx",
        "task": "binary",
        "dataset": {"name": "text_table", "options": {"path": str(clauses_csv), "group_column": "doc",
                                                      "label_columns": ["unfair"]}},
        "model": {"name": "hf_text_classifier", "options": {"name_or_path": str(tiny_bert), "max_length": 32}},
        "objective": {"metric": "f1"},
    }  # fmt: skip
    prepared = prepare_study(parse_study(study, where="test"), get_plugin_manager())
    plan = TrialPlan(learning_rate=1e-4, batch_size=16, epochs=1, warmup_ratio=0.0, weight_decay=0.0, dropout=0.0,
                     label_smoothing=0.0, patience=1, adaptation="full", seed=0)  # fmt: skip
    record = check_onnx_export(prepared.build_model(plan).module, prepared.splits.test, tmp_path / "onnx")
    assert record["inputs"]["input_ids"]["dynamic_axes"] == {0: "batch", 1: "sequence"}
    assert record["inputs"]["attention_mask"]["dynamic_axes"] == {0: "batch", 1: "sequence"}
