"""Storage that cannot work fails at once with one line and exit 2: a port that is no number, a
journal URL naming a folder, an unknown scheme, a read-only database (never retried as if the
connection were lost)."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import pytest
import yaml

from autosft.config import parse_study
from autosft.errors import StorageError
from autosft.search.controller import run_search
from autosft.storage.retry import call_with_retry, is_transient
from autosft.testing import toy_manager, toy_study
from tests.conftest import run_toy_cli

TINY = {"dataset": {"name": "toy_blobs", "options": {"rows": 200}}, "budget": {"n_trials": 1, "max_epochs": 1}}


def _one_line_error(*args: str, cwd: Path) -> str:
    done = run_toy_cli(*args, cwd=cwd)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "retrying" not in done.stderr, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgresql+psycopg://u@h:abc/db", "the port must be a number"),
        ("redis://127.0.0.1:abc/0", "the port must be a number"),
        ("journal://{folder}", "is a folder; name the journal file in it"),
        ("sqlite:///{folder}", "is a folder; name the study database file in it"),
        ("mongodb://h/db", "has scheme 'mongodb'; valid schemes: sqlite, postgresql, mysql, mariadb, journal, redis"),
    ],
    ids=["postgresql-port", "redis-port", "journal-folder", "sqlite-folder", "unknown-scheme"],
)
def test_a_storage_url_that_cannot_work_is_one_line(tmp_path: Path, url: str, said: str) -> None:
    line = _one_line_error("status", "--storage", url.format(folder=tmp_path), "--study-name", "x", cwd=tmp_path)
    assert said in line


def test_a_read_only_database_fails_at_once(tmp_path: Path) -> None:
    database = tmp_path / "study.db"
    made = run_search(parse_study(toy_study(f"sqlite:///{database}", **TINY), where="t"), manager=toy_manager())
    assert made.states == {"COMPLETE": 1}
    database.chmod(0o444)
    # chmod binds everyone but root, who still writes; SQLite's read-only mode binds root too.
    url = f"sqlite:///file:{database}?mode=ro&uri=true" if os.geteuid() == 0 else f"sqlite:///{database}"
    study_file = tmp_path / "study.yaml"
    study_file.write_text(yaml.safe_dump(toy_study(url, **TINY)))
    line = _one_line_error("search", str(study_file), "--no-final-test", cwd=tmp_path)
    assert "cannot be written (read-only or full): attempt to write a readonly database" in line
    assert len(optuna.load_study(study_name="toy", storage=url).trials) == 1  # and it still reads


def test_a_full_database_is_not_a_lost_connection(tmp_path: Path) -> None:
    """SQLite's own 'database or disk is full', from a database capped at its current size."""
    import sqlite3

    connection = sqlite3.connect(tmp_path / "full.db", isolation_level=None)
    connection.execute("CREATE TABLE t (x BLOB)")
    connection.execute(f"PRAGMA max_page_count = {connection.execute('PRAGMA page_count').fetchone()[0]}")

    def fill() -> None:
        connection.execute("INSERT INTO t VALUES (?)", (b"x" * 100_000,))

    with pytest.raises(sqlite3.OperationalError) as raised:
        fill()
    assert not is_transient(raised.value)
    with pytest.raises(StorageError, match="cannot be written .read-only or full.: database or disk is full"):
        call_with_retry(fill)
