"""A storage password is never written or shown: not in the study's attributes, not in an export,
not on a worker's command line, not in what the commands print.

PostgreSQL here trusts local connections, so any password is accepted: the test's holds ``@``
and ``/`` (URL-encoded, as a URL must carry them) and a unique fragment that every check looks for.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import optuna
import pytest
import yaml

from autosft.storage import mask_url, open_storage
from autosft.testing import toy_study
from tests.conftest import _service_url

AUTOSFT = shutil.which("autosft")
ENV = {**os.environ, "AUTOSFT_PLUGINS": "autosft.testing:ToyPlugin", "HF_HUB_OFFLINE": "1"}


def test_masking_hides_passwords_with_at_signs_and_slashes() -> None:
    assert mask_url("postgresql+psycopg://u:p%40ss%2Fw0rd@db:5432/x") == "postgresql+psycopg://u:***@db:5432/x"
    # Not URL-encoded, which URLs do not allow: hidden up to the last @ rather than read as a host.
    assert mask_url("see 'postgresql://u:p@ss/w0rd@db/x'.") == "see 'postgresql://u:***@db/x'."
    assert mask_url("redis://:s%40cret@cache:6379/0?prefix=team") == "redis://:***@cache:6379/0?prefix=team"
    assert mask_url("postgresql+psycopg://u:pw@h:abc/db") == "postgresql+psycopg://u:***@h:abc/db"
    assert (
        mask_url("postgresql+psycopg://u@h/db and journal:///a/b.log")
        == "postgresql+psycopg://u@h/db and journal:///a/b.log"
    )


@pytest.fixture
def secret_url(study_name: str) -> Iterator[tuple[str, str]]:
    """A PostgreSQL URL with a password, and the password's unique fragment; the study is removed after."""
    if _service_url("postgresql") is None:
        pytest.skip("postgresql is not reachable on this machine")
    fragment = uuid.uuid4().hex[:16]
    url = f"postgresql+psycopg://postgres:{quote(f'p@ss/{fragment}', safe='')}@127.0.0.1:5432/test"
    yield url, fragment
    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=study_name, storage=open_storage(url))


def _autosft(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AUTOSFT, *args], env=ENV, cwd=cwd, capture_output=True, text=True, timeout=600)


def _worker_command_lines(study_name: str) -> dict[int, str]:
    """Command lines of this study's processes, as `ps` shows them to every user of the machine."""
    found = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if study_name in text:
                found[int(cmdline.parent.name)] = text
    return found


def test_the_password_is_in_no_attribute_export_or_command_line(
    secret_url: tuple[str, str], study_name: str, tmp_path: Path
) -> None:
    url, fragment = secret_url
    study = toy_study(url, name=study_name, budget={"n_trials": 3, "max_epochs": 3},
                      dataset={"name": "toy_blobs", "options": {"rows": 1000}})  # fmt: skip
    study_file = tmp_path / "study.yaml"
    study_file.write_text(yaml.safe_dump(study))
    search = subprocess.Popen([AUTOSFT, "search", str(study_file), "--workers", "2", "--no-final-test"], env=ENV,
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    seen: dict[int, str] = {}
    try:
        while search.poll() is None:
            seen.update(_worker_command_lines(study_name))
            time.sleep(0.05)
        out, err = search.communicate(timeout=60)
    finally:
        search.kill()
    assert search.returncode == 0, err
    workers = [line for line in seen.values() if " worker " in line]
    assert len(workers) >= 2, seen  # the check saw the workers while they ran
    assert not [line for line in seen.values() if fragment in line]

    status = _autosft("status", "--storage", url, "--study-name", study_name, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    exported = _autosft("export", "--storage", url, "--study-name", study_name, "--out", str(tmp_path / "export"),
                        "--resamples", "20", cwd=tmp_path)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    for printed in (out, err, status.stdout, status.stderr, exported.stdout, exported.stderr):
        assert fragment not in printed
    files = [path for path in (tmp_path / "export").rglob("*") if path.is_file()]
    assert files and not [path for path in files if fragment.encode() in path.read_bytes()]

    storage = open_storage(url)
    loaded = optuna.load_study(study_name=study_name, storage=storage)
    attrs = [loaded.user_attrs, storage.get_study_system_attrs(storage.get_study_id_from_name(study_name))]
    attrs += [attr for trial in loaded.trials for attr in (trial.user_attrs, trial.system_attrs)]
    assert fragment not in json.dumps(attrs, default=str)
    assert loaded.user_attrs["autosft_config"]["storage"] == mask_url(url)
