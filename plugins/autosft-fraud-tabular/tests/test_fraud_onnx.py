"""The tabular backbones export to ONNX (``autosft export --onnx``), plain and with LoRA merged, and
onnxruntime scores every test row as torch does."""

from __future__ import annotations

from pathlib import Path

import pytest
from autosft_fraud_tabular.ensemble import TabMBuilder, TabMOptions
from autosft_fraud_tabular.model import TabularMLPBuilder, TabularMLPOptions
from peft import LoraConfig, get_peft_model
from pydantic import BaseModel

from autosft.components import ModelBuilder, Splits
from autosft.testing import check_onnx_export


def _options(builder: ModelBuilder, cache: Path) -> BaseModel:
    if isinstance(builder, TabMBuilder):  # piecewise-linear embeddings and 4 members: the ensemble's mean
        return TabMOptions(k=4, d_block=16, n_bins=8, d_embedding=4, pretrain_epochs=1, cache_dir=cache)
    return TabularMLPOptions(hidden_sizes=[32, 16], pretrain_epochs=1, cache_dir=cache)


@pytest.mark.parametrize("builder", [TabularMLPBuilder(), TabMBuilder()], ids=lambda builder: builder.name)
@pytest.mark.parametrize("lora", [False, True])
def test_tabular_backbones_export_to_onnx(
    tmp_path: Path, fraud_splits: Splits, builder: ModelBuilder, lora: bool
) -> None:
    built = builder.build(_options(builder, tmp_path / "cache"), fraud_splits, seed=0)
    module = built.module
    if lora:
        targets = next(iter(built.lora_targets.values()))
        # non-zero adapters: the merge changes the weights the graph holds
        config = LoraConfig(r=4, target_modules=targets, modules_to_save=built.head, init_lora_weights=False)
        module = get_peft_model(module, config)
    record = check_onnx_export(module, fraud_splits.test, tmp_path / "onnx")
    assert record["inputs"] == {"input": {"dtype": "float32", "dynamic_axes": {0: "batch"}}}
