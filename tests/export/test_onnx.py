"""`autosft export --onnx`: a LoRA study exports a merged graph that onnxruntime runs like torch, the run
card records difference, size and latency, and an operator ONNX lacks is a one-line error naming it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from autosft.cli import build_app
from autosft.components import DataSplit
from autosft.config import parse_study
from autosft.export import load_model
from autosft.export.exporter import RUN_CARD
from autosft.export.onnx import ONNX_FILE, OPSET, RELATIVE_TOLERANCE, OnnxExportError, export_onnx
from autosft.search.controller import run_search
from autosft.search.prepare import prepare_study
from autosft.testing import check_onnx_export, toy_manager, toy_study


def test_export_onnx_writes_a_merged_lora_graph_that_matches_torch(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = toy_study(url, budget={"n_trials": 1, "max_epochs": 2}, search_space={"adaptation": {"value": "lora"}})
    run_search(parse_study(study, where="test"), manager=toy_manager(), final_test=False)
    out = tmp_path / "export"
    result = CliRunner().invoke(build_app(toy_manager()), ["export", "--storage", url, "--study-name", "toy",
                                "--out", str(out), "--resamples", "20", "--onnx"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "model.onnx:" in result.output and "ms per row on CPU" in result.output
    card = json.loads((out / RUN_CARD).read_text())["onnx"]
    assert card["file"] == ONNX_FILE and card["opset"] == OPSET and card["check_rows"] == 64
    assert 0 <= card["max_abs_difference"] <= RELATIVE_TOLERANCE and card["cpu_latency_ms_per_row"] > 0
    assert card["size_bytes"] == (out / ONNX_FILE).stat().st_size
    assert card["inputs"] == {"input": {"dtype": "float32", "dynamic_axes": {"0": "batch"}}}
    import onnx

    # merged: one matrix product per layer of the plain model, none for the adapters
    products = sum(node.op_type in ("Gemm", "MatMul") for node in onnx.load(out / ONNX_FILE).graph.node)
    plain = load_model(out, manager=toy_manager()).unload()
    assert products == sum(isinstance(layer, torch.nn.Linear) for layer in plain.modules())
    # the reloaded peft model (base + adapter, unmerged) agrees with the graph on every test row
    test = prepare_study(parse_study(study, where="test"), toy_manager()).splits.test
    check_onnx_export(load_model(out, manager=toy_manager()), test, tmp_path / "again")


def test_exporting_without_onnx_writes_no_graph(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    run_search(parse_study(toy_study(url, budget={"n_trials": 1, "max_epochs": 1}), where="test"),
               manager=toy_manager(), final_test=False)  # fmt: skip
    result = CliRunner().invoke(build_app(toy_manager()), ["export", "--storage", url, "--study-name", "toy",
                                "--out", str(tmp_path / "export"), "--resamples", "20"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "export" / ONNX_FILE).exists()
    assert json.loads((tmp_path / "export" / RUN_CARD).read_text())["onnx"] is None


class _Eigenvalues(torch.nn.Module):
    """Uses an operator (symmetric eigendecomposition) that ONNX has no form for."""

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.linalg.eigh(inputs[:, :, None] * inputs[:, None, :])[0]


def test_an_operator_onnx_lacks_is_one_line_naming_it(tmp_path: Path) -> None:
    rows = DataSplit(np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32), np.zeros(8, dtype=int))
    with pytest.raises(OnnxExportError, match="operator aten::linalg_eigh") as raised:
        export_onnx(_Eigenvalues(), rows, tmp_path)
    assert "\n" not in str(raised.value)
