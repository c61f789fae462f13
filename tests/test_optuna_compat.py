"""An autosft study stays a plain Optuna study: `optuna.load_study` and optuna-dashboard's API read it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit
from wsgiref.util import setup_testing_defaults

import optuna
import pytest

from autosft.config import parse_study
from autosft.search.controller import run_search
from autosft.search.study import CONFIG_ATTR
from autosft.storage import open_storage
from autosft.testing import toy_manager, toy_study


@pytest.fixture
def searched(storage_url: str, study_name: str) -> Iterator[str]:
    config = parse_study(toy_study(storage_url, name=study_name, budget={"n_trials": 2, "max_epochs": 2}), where="t")
    run_search(config, manager=toy_manager(), final_test=False)
    yield storage_url
    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=study_name, storage=open_storage(storage_url))


def _plain_storage(url: str) -> str | optuna.storages.BaseStorage:
    """What a user of plain Optuna would pass for ``url``: the URL itself, or a journal storage."""
    parts = urlsplit(url)
    if parts.scheme == "journal":
        return optuna.storages.journal.JournalStorage(optuna.storages.journal.JournalFileBackend(parts.path))
    if parts.scheme == "redis":
        prefix = parse_qs(parts.query)["prefix"][0]
        backend = optuna.storages.journal.JournalRedisBackend(parts._replace(query="").geturl(), prefix=prefix)
        return optuna.storages.journal.JournalStorage(backend)
    return url


def test_plain_optuna_reads_trials_and_user_attrs(searched: str, study_name: str) -> None:
    study = optuna.load_study(study_name=study_name, storage=_plain_storage(searched))  # no autosft code involved
    assert study.user_attrs[CONFIG_ATTR]["name"] == study_name
    assert [trial.number for trial in study.trials] == [0, 1]
    best = study.best_trial
    assert best.value == pytest.approx(best.user_attrs["metrics"]["roc_auc"], abs=1e-6)  # stored rounded
    assert best.user_attrs["plan"]["adaptation"] == best.params.get("adaptation", "full")
    assert [row["epoch"] for row in best.user_attrs["history"]] == list(range(1, best.user_attrs["epochs_run"] + 1))
    frame = study.trials_dataframe()
    assert {"value", "state", "user_attrs_metrics", "user_attrs_plan"} <= set(frame.columns)


def _get(app, path: str) -> dict:
    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update(PATH_INFO=path, REQUEST_METHOD="GET")
    status: list[str] = []
    body = b"".join(app(environ, lambda code, headers, exc_info=None: status.append(code)))
    assert status == ["200 OK"], (path, status, body[:200])
    return json.loads(body)


def test_optuna_dashboard_api_serves_the_study(searched: str, study_name: str) -> None:
    dashboard = pytest.importorskip("optuna_dashboard")
    app = dashboard.wsgi(_plain_storage(searched))
    summaries = _get(app, "/api/studies")["study_summaries"]
    study_id = next(summary["study_id"] for summary in summaries if summary["study_name"] == study_name)
    detail = _get(app, f"/api/studies/{study_id}")
    assert detail["name"] == study_name and len(detail["trials"]) == 2
    attrs = {attr["key"] for attr in detail["trials"][0]["user_attrs"]}
    assert {"plan", "metrics", "history", "timings"} <= attrs
    assert any(param["name"] == "learning_rate" for param in detail["trials"][0]["params"])
