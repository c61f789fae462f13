"""The layering rules of docs/architecture.md, checked: plugins use only the public API, and no
module or package imports one that imports it back."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import autosft

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_PACKAGES = sorted(path for path in ROOT.glob("plugins/*/autosft_*") if (path / "__init__.py").is_file())
IMPORT_CYCLES = ROOT.parent / "shared" / "tools" / "import_cycles.py"
#: The autosft modules a plugin may import; every other ``autosft.*`` module is private.
PUBLIC_MODULES = frozenset({"autosft", "autosft.testing"})


def private_imports(package: Path) -> list[str]:
    """``file:line module`` for each import of a private autosft module in ``package``."""
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                if module.split(".")[0] == "autosft" and module not in PUBLIC_MODULES:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {module}")
    return found


def cycles(*arguments: str) -> set[frozenset[str]]:
    """The cycles ``import_cycles.py`` reports, each as the set of files (or packages) in it."""
    run = subprocess.run(
        [sys.executable, str(IMPORT_CYCLES), *arguments], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert run.returncode in (0, 1), run.stderr
    found: list[set[str]] = []
    for line in run.stdout.splitlines():
        if line.startswith("cycle "):
            found.append(set())
        elif " -> " in line:
            found[-1].add(line.split(" -> ")[0].strip())
    return {frozenset(cycle) for cycle in found}


def test_every_public_name_resolves() -> None:
    missing = [name for name in autosft.__all__ if not hasattr(autosft, name)]
    assert missing == []


def test_import_autosft_does_not_import_torch() -> None:
    code = "import sys, autosft; print(sorted(m for m in ('torch', 'optuna', 'transformers') if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert run.stdout.strip() == "[]"


@pytest.mark.parametrize("package", PLUGIN_PACKAGES, ids=lambda path: path.name)
def test_plugins_import_only_the_public_api(package: Path) -> None:
    assert private_imports(package) == []


needs_tool = pytest.mark.skipif(not IMPORT_CYCLES.is_file(), reason=f"{IMPORT_CYCLES} is absent (no ../shared)")


@needs_tool
@pytest.mark.parametrize("package", [None, *PLUGIN_PACKAGES], ids=lambda path: "autosft" if path is None else path.name)
def test_no_module_import_cycle(package: Path | None) -> None:
    roots = ["autosft"] if package is None else ["autosft", str(package.relative_to(ROOT))]
    assert cycles(*roots) == set()


@needs_tool
def test_no_package_import_cycle() -> None:
    assert cycles("--packages", "autosft") == set()
