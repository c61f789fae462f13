"""The plugin manager and registry: built-ins through the hooks, entry points, errors that name names."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from autosft.components import Metric
from autosft.errors import ConfigError, PluginError
from autosft.hookspecs import hookimpl
from autosft.plugins import get_plugin_manager
from autosft.registry import collect_registry
from autosft.testing import ToyBlobs, toy_manager


class DuplicateBlobs:
    @hookimpl
    def autosft_register_datasets(self, register: Callable[[object], None]) -> None:
        register(ToyBlobs())


class Misspelled:
    @hookimpl
    def autosft_register_metric(self, register: Callable[[object], None]) -> None:  # missing "s"
        pass


class WrongType:
    @hookimpl
    def autosft_register_metrics(self, register: Callable[[object], None]) -> None:
        register("not a metric")


def test_builtins_register_through_the_hooks() -> None:
    registry = collect_registry(get_plugin_manager(load_entry_points=False))
    assert {"roc_auc", "pr_auc", "f1", "accuracy", "log_loss"} <= set(registry.metrics.names())
    assert set(registry.imbalance.names()) == {"none", "class_weights", "focal", "oversample"}
    assert registry.metrics.by_plugin()["autosft.metrics"]


def test_duplicate_name_names_both_plugins() -> None:
    manager = get_plugin_manager(load_entry_points=False)
    manager.register(DuplicateBlobs(), name="first-plugin")
    manager.register(DuplicateBlobs(), name="second-plugin")
    with pytest.raises(
        PluginError, match="dataset name 'toy_blobs' is registered by both 'first-plugin' and 'second-plugin'"
    ):
        collect_registry(manager)


def test_unknown_name_lists_valid_ones() -> None:
    registry = collect_registry(toy_manager())
    with pytest.raises(
        ConfigError,
        match=r"unknown dataset 'blobs' \(did you mean 'toy_blobs'\?\); valid names: image_folder, image_manifest, "
        "image_npz, text_table, toy_blobs",
    ):
        registry.datasets.get("blobs")


def test_misspelled_hook_fails_loudly() -> None:
    with pytest.raises(PluginError, match="unknown hook"):
        get_plugin_manager(load_entry_points=False, plugins=(Misspelled(),))


def test_registering_the_wrong_type_is_rejected() -> None:
    with pytest.raises(PluginError, match="is not a Metric"):
        collect_registry(toy_manager(WrongType()))


def test_a_metric_plugin_adds_a_usable_metric() -> None:
    class Extra:
        @hookimpl
        def autosft_register_metrics(self, register: Callable[[Metric], None]) -> None:
            register(Metric("always_one", "maximize", lambda labels, probs: 1.0, frozenset({"binary"})))

    registry = collect_registry(toy_manager(Extra()))
    assert registry.metrics.get("always_one").compute(None, None) == 1.0


def _installed_plugin_names(env: dict[str, str]) -> str:
    code = (
        "from autosft.plugins import get_plugin_manager as g\n"
        "print(sorted(name for name, plugin in g().list_name_plugin() if plugin is not None))"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout


def test_entry_points_load_and_can_be_disabled() -> None:
    pytest.importorskip("autosft_fraud_tabular", reason="the fraud-tabular plugin package is not installed")
    assert "fraud_tabular" in _installed_plugin_names(dict(os.environ))
    disabled = {**os.environ, "AUTOSFT_DISABLE_PLUGINS": "fraud_tabular"}
    assert "fraud_tabular" not in _installed_plugin_names(disabled)
    everything = {**os.environ, "AUTOSFT_DISABLE_PLUGINS": "*"}
    assert "fraud_tabular" not in _installed_plugin_names(everything)
