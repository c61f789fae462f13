"""ruff (lint and format) and mypy stay clean: CI runs this with the rest of the suite."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

CHECKED = ["autosft", "tests", "benchmarks", "plugins"]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed (pip install -e '.[dev]')")
def test_ruff_lint_and_format() -> None:
    lint = _run("ruff", "check", *CHECKED)
    assert lint.returncode == 0, lint.stdout
    formatting = _run("ruff", "format", "--check", *CHECKED)
    assert formatting.returncode == 0, formatting.stdout


@pytest.mark.slow  # about 90 s; developers run `python3 -m mypy autosft` before every commit
def test_mypy_on_the_package() -> None:
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[dev]')")
    typed = _run(sys.executable, "-m", "mypy", "autosft")
    assert typed.returncode == 0, typed.stdout
