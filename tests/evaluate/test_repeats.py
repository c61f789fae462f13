"""Dropping validation and test rows that repeat earlier splits: on any plugin's rows, before any trial."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
import yaml
from typer.testing import CliRunner

from autosft.cli import build_app
from autosft.components import DataSplit, Splits
from autosft.config import parse_study
from autosft.evaluate.datacheck import check_splits
from autosft.evaluate.repeats import DROPPED_REPEATS_INFO, drop_repeats, take_rows
from autosft.search.controller import run_search
from autosft.search.prepare import prepare_study
from autosft.search.study import stored_config
from autosft.testing import ToyBlobs, toy_study
from tests.evaluate.leaky import leaky_manager


def _planted() -> Splits:
    """Blobs with a pretrain split; val rows 0-4 copy train, test rows 0-2 copy val rows 10-12 and
    test rows 3-4 copy pretrain; test row 5 copies val row 0, itself a copy of train."""
    splits = ToyBlobs().load(ToyBlobs.Options(rows=300), task="binary", seed=0)
    pretrain = take_rows(splits.train, np.arange(200, 300))
    val, test = splits.val.inputs.copy(), splits.test.inputs.copy()
    val[:5] = splits.train.inputs[:5]
    test[:3] = val[10:13]
    test[3:5] = pretrain.inputs[:2]
    test[5] = val[0]
    return replace(splits, train=take_rows(splits.train, np.arange(200)), pretrain=pretrain,
                   val=DataSplit(val, splits.val.labels), test=DataSplit(test, splits.test.labels))  # fmt: skip


def test_dropped_rows_are_counted_and_the_leakage_check_then_passes() -> None:
    splits = _planted()
    assert {f.check for f in check_splits(splits).errors} == {"leakage"}
    cleaned = drop_repeats(splits)
    assert cleaned.info[DROPPED_REPEATS_INFO] == {"val": 5, "test": 6}
    assert (len(cleaned.val), len(cleaned.test)) == (len(splits.val) - 5, len(splits.test) - 6)
    np.testing.assert_array_equal(cleaned.test.inputs, splits.test.inputs[6:])
    np.testing.assert_array_equal(cleaned.test.labels, splits.test.labels[6:])
    assert cleaned.fingerprint != splits.fingerprint  # caches keyed by it must not mix the two
    report = check_splits(cleaned)
    assert report.errors == []
    [notice] = [f for f in report.notices if "repeats dropped" in f.message]
    assert "5 val, 6 test rows" in notice.message and notice.count == 11
    again = drop_repeats(cleaned)
    assert again.info[DROPPED_REPEATS_INFO] == {"val": 0, "test": 0} and again.fingerprint == cleaned.fingerprint


def test_token_id_rows_are_compared_whole() -> None:
    """Mapping inputs: a row repeats only when every array of it does (ids and mask alike)."""
    ids = np.arange(40, dtype=np.int64).reshape(10, 4)
    mask = np.ones_like(ids)
    train = DataSplit({"input_ids": ids, "attention_mask": mask}, np.arange(10) % 2)
    val_ids, val_mask = ids[:3].copy(), mask[:3].copy()
    val_mask[1, -1] = 0  # same ids, different mask: not a repeat
    val = DataSplit({"input_ids": val_ids, "attention_mask": val_mask}, np.array([0, 1, 0]))
    test = DataSplit({"input_ids": ids[5:7] + 100, "attention_mask": mask[5:7]}, np.array([1, 0]))
    cleaned = drop_repeats(Splits(train, val, test, "binary", ("a", "b"), "tokens", "tok"))
    assert cleaned.info[DROPPED_REPEATS_INFO] == {"val": 2, "test": 0}
    np.testing.assert_array_equal(cleaned.val.inputs["input_ids"], ids[1:2])
    assert cleaned.val.inputs["attention_mask"][0, -1] == 0


def _study(tmp_path: Path, **overrides: object) -> Path:
    dataset = {"name": "leaky_blobs", "options": {"leaked": 10, "val_leaked": 4}}
    study = toy_study(f"sqlite:///{tmp_path / 'study.db'}", dataset=dataset, budget={"n_trials": 1, "max_epochs": 2},
                      **overrides)  # fmt: skip
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


def test_search_drops_repeats_before_any_trial_and_tests_on_the_cleaned_split(tmp_path: Path) -> None:
    study_file = _study(tmp_path, data_check={"drop_repeats": True})
    config = parse_study(yaml.safe_load(study_file.read_text()), where="test")
    outcome = run_search(config, manager=leaky_manager())
    assert outcome.data_check is not None and outcome.data_check.errors == []
    assert outcome.states == {"COMPLETE": 1}
    assert outcome.final_test is not None and outcome.final_test["test_rows"] == 140
    # A worker joining the study reads its stored study file, so it trains and scores on the same rows.
    stored = stored_config(outcome.study, config.storage)
    assert stored.data_check.drop_repeats
    joined = prepare_study(stored, leaky_manager())
    assert (len(joined.splits.val), len(joined.splits.test)) == (146, 140)
    assert joined.splits.fingerprint == outcome.prepared.splits.fingerprint


def test_the_flag_on_check_data_and_search(tmp_path: Path) -> None:
    app = build_app(leaky_manager())
    study_file = _study(tmp_path)
    refused = CliRunner().invoke(app, ["search", str(study_file)])
    assert refused.exit_code == 2 and "--drop-repeats" in refused.stderr, refused.output
    report = tmp_path / "report.json"
    checked = CliRunner().invoke(app, ["check-data", str(study_file), "--drop-repeats", "--out", str(report)])
    assert checked.exit_code == 0, checked.output
    assert any("4 val, 10 test rows" in f["message"] for f in json.loads(report.read_text())["findings"])
    searched = CliRunner().invoke(app, ["search", str(study_file), "--drop-repeats", "--no-final-test"])
    assert searched.exit_code == 0, searched.output
    assert "repeats dropped (data_check.drop_repeats): 4 val, 10 test rows" in searched.stderr
    study = optuna.load_study(study_name="toy", storage=f"sqlite:///{tmp_path / 'study.db'}")
    assert stored_config(study, "sqlite://").data_check.drop_repeats
