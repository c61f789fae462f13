"""A database restart mid-study is ridden out: real servers behind a link the test cuts and restores."""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import optuna
import pytest

from autosft.config import parse_study
from autosft.search.controller import run_search
from autosft.storage import open_storage
from autosft.storage.retry import RETRY_WINDOW_SECONDS, is_transient
from autosft.testing import toy_manager, toy_study
from tests.storage.outage import CuttableLink


@pytest.fixture
def linked(storage_url: str, study_name: str) -> Iterator[tuple[str, CuttableLink]]:
    """The study server's URL rerouted through a link the test can cut; the study is removed after."""
    parts = urlsplit(storage_url)
    if parts.port is None:
        pytest.skip("an embedded storage has no connection to lose")
    link = CuttableLink((parts.hostname or "127.0.0.1", parts.port))
    yield parts._replace(netloc=parts.netloc.replace(f":{parts.port}", f":{link.port}")).geturl(), link
    link.cut()
    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=study_name, storage=open_storage(storage_url))


def test_a_database_restart_mid_study_loses_nothing(
    linked: tuple[str, CuttableLink], storage_url: str, study_name: str
) -> None:
    url, link = linked
    outage_seconds = 3.0

    def restart_after_the_first_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.number == 0:  # down before the next ask, up again while the worker retries
            link.cut()
            threading.Timer(outage_seconds, link.restore).start()

    config = parse_study(toy_study(url, name=study_name, budget={"n_trials": 5, "max_epochs": 3}), where="t")
    started = time.monotonic()
    outcome = run_search(config, manager=toy_manager(), callbacks=[restart_after_the_first_trial], final_test=False)
    assert time.monotonic() - started >= outage_seconds
    trials = optuna.load_study(study_name=study_name, storage=open_storage(storage_url)).trials
    assert len(trials) == 5
    assert all(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for t in trials)
    assert outcome.states.get("FAIL", 0) == 0


def test_an_outage_longer_than_the_window_fails_with_the_connection_error(
    linked: tuple[str, CuttableLink], study_name: str
) -> None:
    url, link = linked
    study = optuna.create_study(study_name=study_name, storage=open_storage(url, window=1.0))
    link.cut()
    started = time.monotonic()
    with pytest.raises(Exception) as raised:
        study.ask()
    assert is_transient(raised.value)
    # Retried for the whole window, and then given up: far sooner than the default window, even on a busy machine.
    assert 0.9 <= time.monotonic() - started < RETRY_WINDOW_SECONDS / 4


def test_an_error_in_the_data_is_not_retried(sqlite_url: str) -> None:
    storage = open_storage(sqlite_url)
    started = time.monotonic()
    with pytest.raises(KeyError):
        storage.get_study_id_from_name("no-such-study")
    assert time.monotonic() - started < RETRY_WINDOW_SECONDS / 4  # not retried for the window, whatever the load


def test_a_worker_holds_a_bounded_pool_of_connections(storage_url: str, study_name: str) -> None:
    if not storage_url.startswith("postgresql"):
        pytest.skip("pg_stat_activity tells the connections of a process apart")
    import sqlalchemy

    from autosft.storage.rdb import POOL_OVERFLOW, POOL_SIZE, application_name

    engine = sqlalchemy.create_engine(storage_url)
    query = sqlalchemy.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")

    def held() -> int:
        with engine.connect() as connection:
            return int(connection.execute(query, {"name": application_name()}).scalar_one())

    # Storages of earlier tests close their connections when collected: collect them before counting,
    # or one collected mid-search (when, depends on the load) hides this search's connections.
    gc.collect()
    before = held()  # other tests of this process may keep storages alive
    config = parse_study(toy_study(storage_url, name=study_name, budget={"n_trials": 8, "max_epochs": 2}), where="t")
    outcome = run_search(config, manager=toy_manager(), final_test=False)  # kept alive: its storage pool too
    gc.collect()
    added = held() - before
    engine.dispose()
    optuna.delete_study(study_name=study_name, storage=open_storage(storage_url))
    assert len(outcome.trial_numbers) == 8
    assert 1 <= added <= POOL_SIZE + POOL_OVERFLOW  # trials, heartbeats, lock: all through a bounded pool
