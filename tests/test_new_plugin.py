"""`autosft new-plugin`: each kind's package installs into a fresh virtual environment and passes its
own tests, `autosft validate`, `autosft plugins --check` and (tabular) a two-trial `autosft search`
as generated; bad input is one line, exit 2, and writes nothing.

The end-to-end tests are real processes: a venv per test (``--system-site-packages``, so torch and
autosft's dependencies come from the environment running the tests; this worktree's autosft goes
first on ``PYTHONPATH``), ``pip install --no-deps --no-build-isolation -e`` into that venv only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

import autosft
from autosft.cli import build_app
from autosft.scaffold import KINDS, plugin_names
from autosft.testing import toy_manager

ROOT = Path(autosft.__file__).resolve().parents[1]


def new_plugin(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(toy_manager()), ["new-plugin", *args])
    return result.exit_code, result.output


class Venv:
    """A virtual environment over this interpreter's packages, with the worktree's autosft first."""

    def __init__(self, folder: Path) -> None:
        subprocess.run(
            [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(folder)], check=True
        )  # fmt: skip  (pip comes from the system site-packages)
        self.python = str(folder / "bin" / "python")
        path = os.environ.get("PYTHONPATH", "")
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *([path] if path else [])]),
                    "AUTOSFT_CACHE_DIR": str(folder / "cache"), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}  # fmt: skip
        self.env.pop("AUTOSFT_PLUGINS", None)

    def run(self, *args: str, cwd: Path, timeout: float = 600) -> str:
        done = subprocess.run([self.python, *args], cwd=cwd, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip
        assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done.stdout


def check_generated(kind: str, tmp_path: Path, *, search: bool = False) -> None:
    """Generate ``kind``, install it into a new venv, and run its tests, `validate` (and `search`) there."""
    name = f"acme-{kind}"
    code, output = new_plugin(name, "--kind", kind, "--out", str(tmp_path))
    assert code == 0, output
    folder = tmp_path / name
    venv = Venv(tmp_path / "venv")
    venv.run("-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", str(folder), cwd=tmp_path)
    tests = venv.run("-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder), cwd=tmp_path)
    assert "7 passed" in tests
    study = f"{name}/studies/example.yaml"  # names components only the installed entry point registers
    assert "valid" in venv.run("-m", "autosft", "validate", study, cwd=tmp_path)
    checked = venv.run("-m", "autosft", "plugins", "--check", name, cwd=tmp_path)  # `acme-tabular` finds acme_tabular
    assert "0 failed, 0 skipped" in checked
    if search:
        storage = f"sqlite:///{tmp_path / 'search.db'}"
        venv.run("-m", "autosft", "search", study, "--n-trials", "2", "--storage", storage, cwd=tmp_path)
        trials = optuna.load_study(study_name=f"{name}-example", storage=storage).trials
        assert [trial.state for trial in trials] == [optuna.trial.TrialState.COMPLETE] * 2


def test_a_tabular_plugin_installs_passes_its_tests_validates_and_searches(tmp_path: Path) -> None:
    check_generated("tabular", tmp_path, search=True)


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(set(KINDS) - {"tabular"}))
def test_every_other_kind_installs_passes_its_tests_and_validates(kind: str, tmp_path: Path) -> None:
    check_generated(kind, tmp_path)


def test_the_kinds_share_every_file_but_how_data_is_read_and_the_networks_stem(tmp_path: Path) -> None:
    from autosft.scaffold import render_files

    names = plugin_names("acme")
    files = {kind: render_files(names, KINDS[kind]) for kind in KINDS}
    own = {"autosft_acme/formats.py", "autosft_acme/network.py", "autosft_acme/bag.py"}
    common = set.intersection(*(set(rendered) for rendered in files.values()))
    assert all(set(rendered) - common <= own for rendered in files.values())
    assert {"pyproject.toml", "README.md", "studies/example.yaml", "tests/test_acme.py"} <= common


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_generated_code_is_lint_clean_and_formatted_under_its_own_ruff_settings(kind: str, tmp_path: Path) -> None:
    code, output = new_plugin("acme", "--kind", kind, "--out", str(tmp_path))
    assert code == 0, output
    for command in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        done = subprocess.run(["ruff", *command, "."], cwd=tmp_path / "acme", capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Acme"], "is not a valid package name: use lowercase letters"),
        (["acme sensors"], "is not a valid package name"),
        (["acme--sensors"], "words joined by single '-' or '_'"),
        (["9lives"], "starting with a letter"),
        (["autosft"], "is not a valid package name"),
        (["acme", "--kind", "tabluar"], "unknown --kind 'tabluar' (did you mean 'tabular'?); valid kinds: tabular,"),
        (["acme", "--kind", "audio"], "valid kinds: tabular, text, image, ranking"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(args: list[str], message: str, tmp_path: Path) -> None:
    code, output = new_plugin(*args, "--out", str(tmp_path))
    assert code == 2 and message in output
    assert output.count("\n") == 1 and "Traceback" not in output
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_that_is_not_empty_is_left_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "notes.txt").write_text("mine")
    code, output = new_plugin("acme", "--out", str(tmp_path))
    assert code == 2 and "already exists and is not empty" in output and output.count("\n") == 1
    assert [path.name for path in tmp_path.iterdir()] == ["acme"] and list((tmp_path / "acme").iterdir()) == [
        tmp_path / "acme" / "notes.txt"
    ]
    assert (tmp_path / "acme" / "notes.txt").read_text() == "mine"


def test_an_out_folder_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    code, output = new_plugin("acme", "--out", str(tmp_path / "missing" / "deeper"))
    assert code == 2 and "no such folder" in output and output.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_an_empty_folder_is_filled_and_the_names_follow_the_rule(tmp_path: Path) -> None:
    (tmp_path / "autosft-acme-sensors").mkdir()
    code, output = new_plugin("autosft-acme-sensors", "--out", str(tmp_path))
    assert code == 0, output
    folder = tmp_path / "autosft-acme-sensors"
    pyproject = (folder / "pyproject.toml").read_text()
    assert 'name = "autosft-acme-sensors"' in pyproject and 'acme_sensors = "autosft_acme_sensors"' in pyproject
    assert (folder / "autosft_acme_sensors" / "example" / "target.csv").is_file()
    assert [path.name for path in tmp_path.iterdir()] == ["autosft-acme-sensors"]  # no staging folder left
