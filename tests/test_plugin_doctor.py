"""`autosft plugins --check`, the plugin doctor, through the real CLI: the shipped plugins pass, and a
deliberately broken plugin gets one FAIL line per broken component, naming it, and exit 1."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np
import pytest
import torch
from pydantic import BaseModel
from torch import nn
from typer.testing import CliRunner

from autosft import Augmentation, BuiltModel, Metric, ModelBuilder, Splits, get_plugin_manager, hookimpl
from autosft.cli import build_app
from autosft.testing import doctor_findings
from tests.conftest import run_cli_with_plugins
from tests.test_plugin_errors import MissingGroup, OneLogit

BROKEN = "tests.test_plugin_doctor:Broken"


def _per_row_error(labels: np.ndarray, probabilities: np.ndarray) -> float:
    return np.abs(labels - probabilities[:, 1])  # type: ignore[return-value]


class PadColumn(Augmentation):
    """Appends a column even at strength 0: the shape changes."""

    name = "pad_column"
    input_kinds = frozenset({"tabular"})

    def apply(self, inputs, targets, *, strength, generator):  # type: ignore[no-untyped-def]
        return torch.cat([inputs, torch.zeros(len(inputs), 1)], dim=1), targets


class Broken:
    @hookimpl
    def autosft_register_models(self, register: Callable[[ModelBuilder], None]) -> None:
        register(MissingGroup())
        register(OneLogit())

    @hookimpl
    def autosft_register_metrics(self, register: Callable[[Metric], None]) -> None:
        register(Metric("per_row_error", "minimize", _per_row_error, frozenset({"binary"})))

    @hookimpl
    def autosft_register_augmentations(self, register: Callable[[Augmentation], None]) -> None:
        register(PadColumn())


def test_a_broken_plugin_fails_naming_each_component() -> None:
    result = run_cli_with_plugins(BROKEN, "plugins", "--check", BROKEN)
    assert result.returncode == 1, result.stdout + result.stderr
    failures = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    of = f"of plugin {BROKEN!r}"
    assert failures == [
        f"FAIL    model 'typo_mlp' {of}: on tabular binary data: layer group names 'block.0', which the model does "
        "not have (did you mean 'blocks.0'?)",
        f"FAIL    model 'one_logit_mlp' {of}: on tabular binary data: 4 rows give logits of shape (4, 1), expected "
        "(4, 2) (one logit per class, 2 for binary)",
        f"FAIL    metric 'per_row_error' {of}: binary: returned ndarray of shape (32,), not a float; "
        "compute(labels, probabilities) must return one number",
        f"FAIL    augmentation 'pad_column' {of}: tabular: at strength 0.0, inputs (8, 4) torch.float32 became "
        "(8, 5) torch.float32; return inputs and targets of the same shapes and dtypes",
    ]
    assert result.stdout.splitlines()[-1].startswith(f"{BROKEN}: 0 ok, 4 failed, 0 skipped in ")
    assert "Traceback" not in result.stdout + result.stderr


def test_an_unknown_plugin_is_one_line_with_the_closest_name() -> None:
    result = run_cli_with_plugins(BROKEN, "plugins", "--check", "autosft.metric")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: unknown plugin 'autosft.metric' (did you mean 'autosft.metrics'?); plugins: autosft.imbalance, "
        f"autosft.metrics, autosft.ranking, autosft.references, autosft.text, autosft.vision, {BROKEN}"
    ]


def _check(plugin: object | None, name: str) -> tuple[int, list[str]]:
    """Exit code and lines of `autosft plugins --check NAME` with ``plugin`` added to the built-ins."""
    manager = get_plugin_manager(load_entry_points=False, plugins=() if plugin is None else (plugin,))
    result = CliRunner().invoke(build_app(manager), ["plugins", "--check", name], env={"COLUMNS": "250"})
    return result.exit_code, result.output.splitlines()


def test_the_toy_plugin_passes_every_check() -> None:
    from autosft.testing import ToyPlugin

    code, lines = _check(ToyPlugin(), "autosft.testing:ToyPlugin")
    assert code == 0, "\n".join(lines)
    assert lines[0] == (
        "ok      dataset 'toy_blobs' of plugin 'autosft.testing:ToyPlugin': its default options: "
        "valid binary Splits (tabular; train 400, val 200, test 200 rows; 2 classes)"
    )
    assert "freeze depth 3, LoRA 'all', LoRA 'hidden'" in lines[2]


class ConvNet(ModelBuilder):
    """Builds on any data without checking its input kind; only images run through it."""

    name = "conv_net"

    def build(self, options: BaseModel, splits: Splits, *, seed: int) -> BuiltModel:
        module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                               nn.Linear(4, splits.num_classes))  # fmt: skip
        return BuiltModel(module, [["0"], ["4"]], {"conv": ["0"]}, ["4"])


class Images:
    @hookimpl
    def autosft_register_models(self, register: Callable[[ModelBuilder], None]) -> None:
        register(ConvNet())


def test_a_model_is_checked_on_the_first_input_kind_it_runs_on() -> None:
    code, lines = _check(Images(), "tests.test_plugin_doctor:Images")
    assert code == 0, "\n".join(lines)
    of = "of plugin 'tests.test_plugin_doctor:Images'"
    assert lines[:2] == [
        f"ok      model 'conv_net' {of}: builds on image binary data: 2 layer groups, LoRA target sets: conv",
        f"ok      model 'conv_net' {of}: forward and backward give (4, 2) logits: full training, freeze depth 1, "
        "LoRA 'conv'",
    ]


class OnlyTheMetric:
    autosft_register_metrics = Broken.autosft_register_metrics


def test_doctor_findings_check_one_plugin_in_a_plugins_tests() -> None:
    [finding] = doctor_findings(OnlyTheMetric(), "only_the_metric")
    assert (finding.status, finding.kind, finding.name, finding.failed) == ("FAIL", "metric", "per_row_error", True)


#: Seconds each takes under `pytest` on a loaded 2-core machine: text 86 (MiniLM, 13 variants), fraud 15
#: (pre-training the MLP), vision 15, retail 5, the rest 8 together.
FAST = ["autosft.metrics", "autosft.ranking", "autosft.imbalance", "autosft_legal_text", "autosft_healthcare_imaging",
        "autosft_retail_recsys"]  # fmt: skip
SLOW = ["autosft.text", "autosft.vision", "autosft_fraud_tabular"]


@pytest.mark.parametrize("name", [*FAST, *(pytest.param(name, marks=pytest.mark.slow) for name in SLOW)])
def test_the_shipped_plugins_pass(name: str) -> None:
    plugin = None if name.startswith("autosft.") else importlib.import_module(name)
    code, lines = _check(plugin, name)
    assert code == 0, "\n".join(lines)
    assert not [line for line in lines if line.startswith("FAIL")]
    assert lines[-1].startswith(f"{name}: ") and " 0 failed" in lines[-1]
