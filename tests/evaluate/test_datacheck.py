"""Data checks on planted problems in tabular rows, images and token ids; the CLI and the search gate."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml
from typer.testing import CliRunner

from autosft.cli import build_app
from autosft.components import DataSplit, Splits
from autosft.config import parse_study
from autosft.errors import DataError
from autosft.evaluate.datacheck import DataReport, check_splits
from autosft.search.controller import run_search
from autosft.testing import ToyBlobs, toy_study
from tests.evaluate.leaky import copy_rows, leaky_manager


def _blobs(rows: int = 300, separation: float = 1.5, classes: int = 2, seed: int = 0) -> Splits:
    options = ToyBlobs.Options(rows=rows, separation=separation, classes=classes, positive_rate=0.4)
    return ToyBlobs().load(options, task="binary" if classes == 2 else "multiclass", seed=seed)


def _findings(report: DataReport, check: str) -> list:
    return [finding for finding in report.findings if finding.check == check]


def test_clean_data_has_no_errors() -> None:
    report = check_splits(_blobs())
    assert report.errors == []
    assert not _findings(report, "leakage") and not _findings(report, "exact duplicates")
    assert report.rows == {"train": 300, "val": 150, "test": 150}
    assert sum(report.class_counts["train"]) == 300


def test_exact_duplicates_within_and_across_splits() -> None:
    splits = _blobs()
    train = splits.train.inputs.copy()
    train[[10, 11, 12]] = train[[0, 1, 2]]  # three repeats inside train
    test = splits.test.inputs.copy()
    test[[5, 6, 7, 8]] = train[[100, 101, 102, 103]]  # four test rows leaked from train (2.7 %)
    splits = replace(splits, train=DataSplit(train, splits.train.labels), test=DataSplit(test, splits.test.labels))
    report = check_splits(splits)
    [within] = [f for f in _findings(report, "exact duplicates") if "train" in f.rows]
    assert within.severity == "warning" and within.rows["train"] == [10, 11, 12]
    [leak] = _findings(report, "leakage")
    assert leak.severity == "error" and leak.rows == {"test": [5, 6, 7, 8]} and "appear in train" in leak.message


def test_near_duplicates_across_splits_are_found() -> None:
    splits = _blobs()
    val = splits.val.inputs.copy()
    val[[3, 9, 30]] = copy_rows(splits.train.inputs, np.array([40, 41, 42]), noise=0.005)
    report = check_splits(replace(splits, val=DataSplit(val, splits.val.labels)))
    near = [f for f in _findings(report, "near duplicates") if "in train" in f.message and "val" in f.rows]
    assert len(near) == 1 and near[0].rows["val"] == [3, 9, 30] and near[0].severity == "warning"
    assert not _findings(report, "leakage")  # near, not exact


def test_planted_label_flips_rank_among_the_top_suspects() -> None:
    splits = _blobs(rows=400, separation=2.5, classes=3)
    flipped = np.arange(0, 400, 40)  # ten rows, each moved to the next class
    labels = splits.train.labels.copy()
    labels[flipped] = (labels[flipped] + 1) % 3
    report = check_splits(replace(splits, train=DataSplit(splits.train.inputs, labels)))
    top = {(s["split"], s["row"]) for s in report.label_suspects[:15]}
    caught = sum(("train", int(row)) in top for row in flipped)
    assert caught >= 8, report.label_suspects[:15]
    flip = next(s for s in report.label_suspects if s["split"] == "train" and s["row"] == flipped[0])
    assert flip["suggested"] == splits.class_names[splits.train.labels[flipped[0]]]


def test_missing_values_conflicts_and_single_class_splits() -> None:
    splits = _blobs()
    train = splits.train.inputs.copy()
    train[7, 2] = np.nan
    train[20] = train[21]
    labels = splits.train.labels.copy()
    labels[20], labels[21] = 0, 1  # same input, two labels
    val_labels = np.zeros_like(splits.val.labels)
    report = check_splits(replace(splits, train=DataSplit(train, labels), val=DataSplit(splits.val.inputs, val_labels)))
    [missing] = _findings(report, "missing values")
    assert missing.severity == "error" and missing.rows == {"train": [7]}
    [conflict] = _findings(report, "label conflicts")
    assert conflict.rows == {"train": [20, 21]}
    [single] = _findings(report, "single-class split")
    assert single.severity == "error" and single.message.startswith("val:")
    assert report.findings[0].severity == "error"  # errors come first


def test_labels_outside_the_classes_stop_the_other_checks() -> None:
    splits = _blobs()
    labels = splits.val.labels.copy()
    labels[[4, 8]] = [2, -1]
    report = check_splits(replace(splits, val=DataSplit(splits.val.inputs, labels)))
    assert [(f.check, f.rows) for f in report.findings] == [("labels", {"val": [4, 8]})]
    assert "class indices 0..1" in report.findings[0].message
    shaped = check_splits(replace(splits, test=DataSplit(splits.test.inputs, np.eye(2)[splits.test.labels])))
    assert [f.message for f in shaped.errors] == ["test: labels shaped (150, 2), but binary needs class indices 0..1"]


def test_constant_inputs_are_an_error_not_a_crash() -> None:
    splits = _blobs()
    flat = {name: DataSplit(np.ones_like(getattr(splits, name).inputs), getattr(splits, name).labels)
            for name in ("train", "val", "test")}  # fmt: skip
    report = check_splits(replace(splits, **flat))
    assert {f.check for f in report.errors} == {"constant split", "leakage"}


@pytest.mark.parametrize("side", [16, 80])  # 80x80 is wider than the raw width: pooled first
def test_images_with_a_leaked_and_a_re_encoded_copy(side: int) -> None:
    rng = np.random.default_rng(1)
    labels = {name: rng.integers(0, 2, rows) for name, rows in (("train", 120), ("val", 40), ("test", 40))}
    # Class-dependent patterns on noise: 1-channel images, as an image plugin would hand them over.
    pattern = rng.normal(0, 1, (2, 1, side, side))
    images = {name: (pattern[y] + rng.normal(0, 1, (len(y), 1, side, side))).astype(np.float32)
              for name, y in labels.items()}  # fmt: skip
    images["test"][0] = images["train"][0]
    images["test"][1] = copy_rows(images["train"], np.array([1]), noise=0.01)[0]
    split = {name: DataSplit(images[name], labels[name]) for name in labels}
    splits = Splits(split["train"], split["val"], split["test"], "binary", ("a", "b"), "image", "img")
    report = check_splits(splits)
    assert [f.rows for f in _findings(report, "leakage")] == [{"test": [0]}]
    near = [f.rows for f in _findings(report, "near duplicates") if "in train" in f.message]
    assert near == [{"test": [1]}]


def test_token_ids_with_padding_and_a_copied_text() -> None:
    rng = np.random.default_rng(2)

    def texts(rows: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        labels = rng.integers(0, 2, rows)
        lengths = rng.integers(8, 24, rows)
        ids = np.zeros((rows, 24), dtype=np.int64)
        for row, (label, length) in enumerate(zip(labels, lengths, strict=True)):
            vocabulary = np.arange(100, 400) if label else np.arange(300, 600)  # overlapping vocabularies
            ids[row, :length] = rng.choice(vocabulary, length)
        return {"input_ids": ids, "attention_mask": (ids > 0).astype(np.int64)}, labels

    parts = {name: texts(rows) for name, rows in (("train", 200), ("val", 60), ("test", 60))}
    for key in ("input_ids", "attention_mask"):
        parts["test"][0][key][2] = parts["train"][0][key][5]
    split = {name: DataSplit(inputs, labels) for name, (inputs, labels) in parts.items()}
    splits = Splits(split["train"], split["val"], split["test"], "binary", ("x", "y"), "tokens", "tok")
    report = check_splits(splits)
    assert [f.rows for f in _findings(report, "leakage")] == [{"test": [2]}]
    assert report.errors and [f.check for f in report.errors] == ["leakage"]
    assert "out-of-fold accuracy" in _findings(report, "label errors")[0].message


def test_multilabel_labels_are_checked_per_column() -> None:
    splits = _blobs(rows=300, separation=3.0, classes=3)
    onehot = {name: np.eye(3, dtype=np.int64)[getattr(splits, name).labels] for name in ("train", "val", "test")}
    onehot["train"][[0, 50, 100], 0] = 1 - onehot["train"][[0, 50, 100], 0]
    split = {name: DataSplit(getattr(splits, name).inputs, onehot[name]) for name in onehot}
    report = check_splits(Splits(split["train"], split["val"], split["test"], "multilabel", splits.class_names,
                                 "tabular", "ml"))  # fmt: skip
    assert report.errors == []
    top = {(s["split"], s["row"]) for s in report.label_suspects[:10]}
    assert sum(("train", row) in top for row in (0, 50, 100)) >= 2


def _leaky_study(tmp_path: Path, leaked: int) -> Path:
    study = toy_study(
        f"sqlite:///{tmp_path / 'study.db'}", dataset={"name": "leaky_blobs", "options": {"leaked": leaked}}
    )
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


def _cli(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(build_app(leaky_manager()), list(args))


def test_cli_exit_codes_and_json(tmp_path: Path) -> None:
    bad = _cli("check-data", str(_leaky_study(tmp_path, leaked=10)), "--out", str(tmp_path / "bad.json"))
    assert bad.exit_code == 1, bad.output
    assert "leakage" in bad.stdout and "1 error(s)" in bad.stdout
    record = json.loads((tmp_path / "bad.json").read_text())
    assert record["errors"] == 1 and record["findings"][0]["rows"] == {"test": list(range(10))}
    good = _cli("check-data", str(_leaky_study(tmp_path, leaked=0)))
    assert good.exit_code == 0, good.output
    assert "0 error(s)" in good.stdout
    searched = _cli("search", str(_leaky_study(tmp_path, leaked=10)))
    assert searched.exit_code == 2 and "the data check found 1 error(s): test: 10 of 150" in searched.stderr


def test_search_refuses_data_errors_before_creating_the_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    config = parse_study(toy_study(url, dataset={"name": "leaky_blobs"}, budget={"n_trials": 1, "max_epochs": 2}),
                         where="test")  # fmt: skip
    with pytest.raises(DataError, match="test: 10 of 150 rows also appear in train"):
        run_search(config, manager=leaky_manager())
    assert optuna.get_all_study_names(url) == []
    outcome = run_search(config, manager=leaky_manager(), check_data=False, final_test=False)
    assert outcome.states == {"COMPLETE": 1} and outcome.data_check is None
