"""The package as a plugin: its entry point, what it registers, and a light import."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import autosft_fraud_tabular

from autosft.testing import registry_of


def test_the_entry_point_names_the_package() -> None:
    found = {point.name: point.value for point in entry_points(group="autosft")}
    assert found.get("fraud_tabular") == "autosft_fraud_tabular"


def test_registers_its_components_through_the_hooks() -> None:
    registry = registry_of(autosft_fraud_tabular, "fraud_tabular")  # also checks every hookimpl matches a spec

    assert registry.datasets.names() == ["tabular", "synthetic_fraud"]
    assert registry.models.names() == ["tabular_mlp", "tabm"]
    assert registry.augmentations.names() == ["feature_noise", "mixup"]
    assert registry.imbalance.names() == ["random_over", "random_under", "smote", "adasyn", "smote_tomek"]
    assert registry.metrics.names() == ["recall_at_precision_80", "recall_at_precision_90"]
    assert registry.references.names() == []  # its model enables the core's pretrained_as_is instead
    assert registry.portfolios.names() == ["tabular_mlp"]
    [portfolio] = registry.portfolios.values()
    assert portfolio.source and portfolio.configurations  # says what it was learned on
    for table in (table for table in registry.tables() if table.entries):
        assert set(table.by_plugin()) == {"fraud_tabular"}
        assert all(getattr(component, "description", "") for component in table.values())


def test_importing_the_plugin_loads_no_heavy_library() -> None:
    code = (
        "import sys, autosft_fraud_tabular; "
        "heavy = {'torch', 'pandas', 'sklearn', 'imblearn', 'tabm', 'rtdl_num_embeddings'} & set(sys.modules); "
        "print(sorted(heavy)); sys.exit(bool(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
