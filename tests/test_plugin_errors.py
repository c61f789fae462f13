"""Mistakes plugin authors commonly make, each answered through the CLI with one line that names the
plugin, the component and the fix, exit 2 and no traceback. Each broken plugin here is small and real."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import BaseModel
from torch import nn
from typer.testing import CliRunner

from autosft import Augmentation, BuiltModel, Metric, ModelBuilder, Splits, hookimpl
from autosft.cli import build_app
from autosft.errors import PluginError
from autosft.testing import ToyMLP, registry_of, toy_manager, toy_study
from tests.conftest import run_cli_with_plugins


class BareModule(ModelBuilder):
    name = "bare_mlp"

    def build(self, options: BaseModel, splits: Splits, *, seed: int) -> BuiltModel:
        return nn.Linear(splits.train.inputs.shape[1], splits.num_classes)  # type: ignore[return-value]


class ReturnsBareModule:
    @hookimpl
    def autosft_register_models(self, register: Callable[[ModelBuilder], None]) -> None:
        register(BareModule())


class MissingGroup(ToyMLP):
    name = "typo_mlp"

    def build(self, options: BaseModel, splits: Splits, *, seed: int) -> BuiltModel:
        built = super().build(options, splits, seed=seed)
        built.layer_groups[1] = ["block.0"]  # the module is ``blocks.0``
        return built


class OneLogit(ToyMLP):
    name = "one_logit_mlp"

    def build(self, options: BaseModel, splits: Splits, *, seed: int) -> BuiltModel:
        built = super().build(options, splits, seed=seed)
        built.module.head = nn.Linear(built.module.head.in_features, 1)
        return built


class BrokenBuilders:
    @hookimpl
    def autosft_register_models(self, register: Callable[[ModelBuilder], None]) -> None:
        register(MissingGroup())
        register(OneLogit())


def _per_row_error(labels: np.ndarray, probabilities: np.ndarray) -> float:
    return np.abs(labels - probabilities[:, 1])  # type: ignore[return-value]


class ArrayMetric:
    @hookimpl
    def autosft_register_metrics(self, register: Callable[[Metric], None]) -> None:
        register(Metric("per_row_error", "minimize", _per_row_error, frozenset({"binary"})))


class ReturnsList:
    @hookimpl
    def autosft_register_models(self, register: Callable[[ModelBuilder], None]) -> list[ModelBuilder]:
        return [ToyMLP()]


class Jitter(Augmentation):
    name = "jitter"
    input_kinds = frozenset({"tabular"})

    def apply(self, inputs, targets, *, strength, generator):  # type: ignore[no-untyped-def]
        return inputs, targets


class RegistersTheClass:
    @hookimpl
    def autosft_register_augmentations(self, register: Callable[[type[Augmentation]], None]) -> None:
        register(Jitter)


class RegistersAString:
    @hookimpl
    def autosft_register_datasets(self, register: Callable[[object], None]) -> None:
        register("blobs")


class MisspelledHook:
    @hookimpl
    def autosft_register_metric(self, register: Callable[[Metric], None]) -> None:  # the "s" is missing
        pass


class WrongArgument:
    @hookimpl
    def autosft_register_models(self, add: Callable[[ModelBuilder], None]) -> None:  # the argument is `register`
        add(ToyMLP())


def _validate(tmp_path: Path, plugin: object, **study: object):  # type: ignore[no-untyped-def]
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(toy_study(f"sqlite:///{tmp_path / 'study.db'}", **study)))
    return CliRunner().invoke(build_app(toy_manager(plugin)), ["validate", str(path)])


def _one_line(result, message: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output + result.stderr
    assert result.stderr.strip().splitlines() == [f"error: {message}"]


PLUGIN = "tests.test_plugin_errors"


def test_build_returning_a_bare_module_names_the_model_and_the_fix(tmp_path: Path) -> None:
    result = _validate(tmp_path, ReturnsBareModule(), model={"name": "bare_mlp"})
    _one_line(result, f"model 'bare_mlp' of plugin '{PLUGIN}:ReturnsBareModule': build() returned Linear, not a "
                      "BuiltModel; return BuiltModel(module, layer_groups, ...)")  # fmt: skip


#: A broken plugin, the study keys that reach its mistake, and the one line `validate` prints for it
#: (``{plugin}`` is the plugin's name as the manager gives it).
VALIDATE_CASES = [
    (BrokenBuilders, {"model": {"name": "typo_mlp"}},
     "model 'typo_mlp' of plugin '{plugin}': layer group names 'block.0', which the model does not have "
     "(did you mean 'blocks.0'?)"),
    (BrokenBuilders, {"model": {"name": "one_logit_mlp"}},
     "model 'one_logit_mlp' of plugin '{plugin}': 4 rows give logits of shape (4, 1), expected (4, 2) "
     "(one logit per class, 2 for binary)"),
    (ArrayMetric, {},
     "metric 'per_row_error' of plugin '{plugin}' returned ndarray of shape (32,), not a float; "
     "compute(labels, probabilities) must return one number"),
    (ReturnsList, {},
     "plugin '{plugin}': autosft_register_models returned list; call register(component) for each component "
     "instead of returning them"),
    (RegistersTheClass, {},
     "plugin '{plugin}' registered the class Jitter as an augmentation; pass an instance: Jitter()"),
    (RegistersAString, {}, "plugin '{plugin}' registered 'blobs' as a dataset, but it is not a DatasetLoader"),
]  # fmt: skip


@pytest.mark.parametrize(("plugin", "study", "message"), VALIDATE_CASES, ids=lambda case: getattr(case, "__name__", ""))
def test_each_mistake_is_one_line_naming_the_plugin(
    tmp_path: Path, plugin: type, study: dict[str, Any], message: str
) -> None:
    result = _validate(tmp_path, plugin(), **study)
    _one_line(result, message.format(plugin=f"{PLUGIN}:{plugin.__name__}"))


def test_autosft_plugins_are_named_by_module_and_class() -> None:
    result = run_cli_with_plugins(f"{PLUGIN}:ReturnsList", "plugins")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"error: plugin '{PLUGIN}:ReturnsList': autosft_register_models returned list")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_misspelled_hook_suggests_the_right_one() -> None:
    result = run_cli_with_plugins(f"{PLUGIN}:MisspelledHook", "plugins")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == (
        f"error: plugin '{PLUGIN}:MisspelledHook' implements an unknown hook 'autosft_register_metric'; "
        "did you mean 'autosft_register_metrics'?"
    )


def test_a_hook_with_a_wrong_argument_name_is_one_line() -> None:
    result = run_cli_with_plugins(f"{PLUGIN}:WrongArgument", "plugins")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"error: plugin '{PLUGIN}:WrongArgument': ") and "{'add'}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_registry_of_suggests_the_hook_too() -> None:
    with pytest.raises(PluginError, match="did you mean 'autosft_register_metrics'"):
        registry_of(MisspelledHook(), "misspelled")


@pytest.mark.parametrize(
    ("study", "message"),
    [
        ({"dataset": {"name": "toy_blobs", "options": {"rowz": 300}}},
         "dataset 'toy_blobs' options: unknown option 'rowz' (did you mean 'rows'?); valid options: classes, "
         "features, positive_rate, pretrain_rows, rows, separation"),
        ({"model": {"name": "toy_mpl"}}, "unknown model 'toy_mpl' (did you mean 'toy_mlp'?); valid names: "),
    ],
)  # fmt: skip
def test_misspelled_names_get_a_did_you_mean(tmp_path: Path, study: dict, message: str) -> None:
    result = _validate(tmp_path, ArrayMetric(), **study)
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {message}"), result.stderr
