"""``hf_text_classifier`` exports to ONNX (``autosft export --onnx``) with dynamic batch and sequence axes,
and onnxruntime scores every test sentence, at every padded width, as torch does."""

from __future__ import annotations

from pathlib import Path

import pytest
from peft import LoraConfig, get_peft_model

from autosft.config import parse_study
from autosft.contracts import TrialPlan
from autosft.plugins import get_plugin_manager
from autosft.search.prepare import prepare_study
from autosft.testing import check_onnx_export


@pytest.mark.parametrize("lora", [False, True])
def test_text_classifier_exports_to_onnx(tmp_path: Path, tiny_bert: Path, clauses_csv: Path, lora: bool) -> None:
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
    built = prepared.build_model(plan)
    module = built.module
    if lora:  # non-zero adapters: the merge changes the weights the graph holds
        config = LoraConfig(r=4, target_modules=next(iter(built.lora_targets.values())), modules_to_save=built.head,
                            init_lora_weights=False)  # fmt: skip
        module = get_peft_model(module, config)
    record = check_onnx_export(module, prepared.splits.test, tmp_path / "onnx")
    assert record["inputs"]["input_ids"]["dynamic_axes"] == {0: "batch", 1: "sequence"}
    assert record["inputs"]["attention_mask"]["dynamic_axes"] == {0: "batch", 1: "sequence"}
