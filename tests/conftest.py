"""Shared fixtures: the toy plugin (autosft.testing), real database services, the CLI runner."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytest_plugins = ["autosft.testing"]

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def load_benchmark(script: str) -> ModuleType:
    """A benchmarks/ script as a module, imported as running it does (benchmarks/ is a folder of scripts,
    not a package: the script's folder goes on sys.path so it can import its neighbours)."""
    if str(REPO / "benchmarks") not in sys.path:
        sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(script, REPO / "benchmarks" / f"{script}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through it
    spec.loader.exec_module(module)
    return module


#: Builds the CLI from a plugin manager with the toy plugin, as a user's installed app would be.
TOY_CLI = "from autosft.cli import build_app; from autosft.testing import toy_manager; build_app(toy_manager())()"


def run_toy_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``autosft ARGS`` (with the toy plugin) in a fresh process."""
    return subprocess.run(
        [sys.executable, "-c", TOY_CLI, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def run_cli_with_plugins(plugins: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``autosft ARGS`` in a fresh process with only the plugins ``AUTOSFT_PLUGINS`` names
    (``module:Class``, comma-separated), every installed one disabled."""
    env = {**os.environ, "AUTOSFT_PLUGINS": plugins, "AUTOSFT_DISABLE_PLUGINS": "*", "COLUMNS": "250"}
    code = "from autosft.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=300)  # fmt: skip


def _service_url(kind: str) -> str | None:
    """A URL of a reachable local service, or None; in CI a missing service fails the test."""
    url = {
        "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        "mysql": "mysql+pymysql://root@127.0.0.1:3306/test",
        "redis": "redis://127.0.0.1:6379/0",
    }[kind]
    try:
        if kind == "redis":
            import redis

            redis.Redis.from_url(url).ping()
        else:
            import sqlalchemy

            engine = sqlalchemy.create_engine(url)
            with engine.connect():
                pass
            engine.dispose()
        return url
    except Exception as error:  # any driver or connection problem means "not available here"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{kind} must be reachable in CI: {error}")
        return None


BACKENDS = ["sqlite", "journal", "postgresql", "mysql", "redis"]


def backend_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """A URL of the storage backend ``kind`` for one test (a Redis key prefix of its own, removed after);
    a server that is absent skips the test (fails it in CI)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'study.db'}"
        return
    if kind == "journal":
        yield f"journal://{tmp_path / 'study.log'}"
        return
    url = _service_url(kind)
    if url is None:
        pytest.skip(f"{kind} is not reachable on this machine")
    if kind != "redis":
        yield url
        return
    import redis

    prefix = f"autosft-test-{uuid.uuid4().hex[:12]}"
    yield f"{url}?prefix={prefix}"
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.fixture(params=BACKENDS)
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each real storage backend in turn (like Optuna's STORAGE_MODES); server ones skip when absent.

    ``journal`` is Optuna's journal storage on a file, ``redis`` the journal storage on Redis
    under a key prefix of its own, removed afterwards.
    """
    yield from backend_url(request.param, tmp_path)


@pytest.fixture
def study_name() -> str:
    """A unique study name, so tests on shared servers never see each other's studies."""
    return f"test-{uuid.uuid4().hex[:12]}"
