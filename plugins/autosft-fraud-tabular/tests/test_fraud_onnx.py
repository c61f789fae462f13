"""The tabular MLP exports to ONNX (``autosft export --onnx``), plain and with LoRA merged, and onnxruntime
scores every test row as torch does."""

from __future__ import annotations

from pathlib import Path

import pytest
from autosft_fraud_tabular.model import TabularMLPBuilder, TabularMLPOptions
from peft import LoraConfig, get_peft_model

from autosft.components import Splits
from autosft.testing import check_onnx_export


@pytest.mark.parametrize("lora", [False, True])
def test_tabular_mlp_exports_to_onnx(tmp_path: Path, fraud_splits: Splits, lora: bool) -> None:
    options = TabularMLPOptions(hidden_sizes=[32, 16], pretrain_epochs=1, cache_dir=tmp_path / "cache")
    built = TabularMLPBuilder().build(options, fraud_splits, seed=0)
    module = built.module
    if lora:
        targets = next(iter(built.lora_targets.values()))
        # non-zero adapters: the merge changes the weights the graph holds
        config = LoraConfig(r=4, target_modules=targets, modules_to_save=built.head, init_lora_weights=False)
        module = get_peft_model(module, config)
    record = check_onnx_export(module, fraud_splits.test, tmp_path / "onnx")
    assert record["inputs"] == {"input": {"dtype": "float32", "dynamic_axes": {0: "batch"}}}
