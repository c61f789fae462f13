"""The ``text_table`` loader on real files: formats, text and label columns, splits by group, bad tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from legal_helpers import clauses, write_table

from autosft.components import Splits
from autosft.config import load_study_file
from autosft.default_plugins.text.loader import TextTable
from autosft.default_plugins.text.options import TextTableOptions
from autosft.errors import AutosftError, ConfigError, DataError
from autosft.evaluate.folds import cross_validation_folds
from autosft.plugins import get_plugin_manager
from autosft.registry import collect_registry
from autosft.search.prepare import check_components

REPO = Path(__file__).resolve().parents[3]
CLAUDETTE = REPO.parent / "shared" / "data" / "legal" / "claudette_tos_en" / "claudette_tos_en_sentences.csv"


def _load(path: Path, task: str = "binary", seed: int = 0, **options: Any) -> Splits:
    options.setdefault("label_columns", ["unfair"] if task != "multilabel" else ["labels"])
    return TextTable().load(TextTableOptions(path=path, **options), task=task, seed=seed)  # type: ignore[arg-type]


def _groups_of(splits: Splits, frame: pd.DataFrame) -> dict[str, set[str]]:
    """Documents per split, found by each row's text (generated texts are unique with their title)."""
    by_text = dict(zip(frame["title"] + "\n" + frame["text"], frame["doc"], strict=True))
    return {name: {by_text[text] for text in getattr(splits, name).inputs} for name in ("train", "val", "test")}


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_every_format_gives_the_same_splits(tmp_path: Path, suffix: str) -> None:
    frame = clauses()
    reference = _load(write_table(frame, tmp_path / "t.csv"), text_columns=["title", "text"], group_column="doc")
    splits = _load(write_table(frame, tmp_path / f"t{suffix}"), text_columns=["title", "text"], group_column="doc")
    for name in ("train", "val", "test"):
        assert list(getattr(splits, name).inputs) == list(getattr(reference, name).inputs)
        np.testing.assert_array_equal(getattr(splits, name).labels, getattr(reference, name).labels)
    assert splits.input_kind == "text" and splits.class_names == ("0", "1")
    assert splits.train.inputs[0].startswith("section ") and "\n" in splits.train.inputs[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_group_never_spans_two_splits(clauses_csv: Path, seed: int) -> None:
    splits = _load(clauses_csv, seed=seed, text_columns=["title", "text"], group_column="doc")
    groups = _groups_of(splits, pd.read_csv(clauses_csv))
    assert not groups["train"] & groups["val"] and not groups["train"] & groups["test"]
    assert not groups["val"] & groups["test"]
    assert sum(splits.info["rows"].values()) == 400 and splits.info["groups"]["train"] >= 10


def test_each_row_keeps_its_group_and_folds_keep_a_group_whole(clauses_csv: Path) -> None:
    splits = _load(clauses_csv, text_columns=["title", "text"], group_column="doc")
    found = _groups_of(splits, pd.read_csv(clauses_csv))
    for name in ("train", "val", "test"):
        assert set(getattr(splits, name).groups.tolist()) == found[name]
    for fold in cross_validation_folds(splits, 5, seed=0):  # validation: {folds: 5}
        assert not set(fold.train.groups.tolist()) & set(fold.val.groups.tolist())


def test_a_split_column_is_followed_and_checked_against_groups(tmp_path: Path) -> None:
    frame = clauses()
    names = {0: "validation", 1: "test"}
    frame["split"] = [names.get(int(doc[3:]) % 5, "train") for doc in frame["doc"]]
    splits = _load(write_table(frame, tmp_path / "t.csv"), split_column="split", group_column="doc")
    expected = {name: int((frame["split"] == raw).sum()) for name, raw in (("train", "train"), ("val", "validation"))}
    assert splits.info["rows"] == {**expected, "test": int((frame["split"] == "test").sum())}
    frame.loc[0, "split"] = "test"  # doc0 now has a row in test and the rest in validation
    with pytest.raises(DataError, match="group 'doc0' has rows in both"):
        _load(write_table(frame, tmp_path / "t.csv"), split_column="split", group_column="doc")


def test_a_missing_split_is_held_out_of_train(tmp_path: Path) -> None:
    frame = clauses()
    frame["split"] = ["test" if int(doc[3:]) < 4 else "train" for doc in frame["doc"]]
    splits = _load(write_table(frame, tmp_path / "t.csv"), split_column="split", group_column="doc")
    assert splits.info["rows"]["test"] == 80 and splits.info["rows"]["val"] > 0


def test_multilabel_from_strings_lists_and_indicator_columns(tmp_path: Path) -> None:
    frame = clauses()
    from_strings = _load(write_table(frame, tmp_path / "t.csv"), "multilabel", empty_labels="keep")
    lists = frame.assign(labels=[[name for name in value.split(";") if name] for value in frame["labels"]])
    from_lists = _load(write_table(lists, tmp_path / "t.jsonl"), "multilabel", empty_labels="keep")
    indicators = frame.assign(**{name: frame["labels"].str.contains(name).astype(int)
                                 for name in from_strings.class_names})  # fmt: skip
    from_columns = _load(write_table(indicators, tmp_path / "i.csv"), "multilabel",
                         label_columns=list(from_strings.class_names), empty_labels="keep")  # fmt: skip
    assert from_strings.class_names == ("choice_of_law", "liability", "termination")
    for other in (from_lists, from_columns):
        assert other.class_names == from_strings.class_names
        np.testing.assert_array_equal(other.train.labels, from_strings.train.labels)
    assert from_strings.train.labels.shape[1] == 3 and from_strings.train.labels.sum() > 0


def test_max_train_rows_keeps_a_stratified_subset(clauses_csv: Path) -> None:
    whole = _load(clauses_csv, group_column="doc")
    subset = _load(clauses_csv, group_column="doc", max_train_rows=100, max_val_rows=40)
    assert len(subset.train) == 100 and len(subset.val) == 40 and len(subset.test) == len(whole.test)
    assert set(subset.train.inputs) <= set(whole.train.inputs)
    assert abs(subset.train.labels.mean() - whole.train.labels.mean()) < 0.03


def _bad(tmp_path: Path, change: str) -> tuple[Path, dict[str, Any], str]:
    """A table broken in one way, the options to load it, and the task."""
    frame = clauses()
    task = "binary"
    options: dict[str, Any] = {}
    if change == "empty text":
        frame.loc[7, "text"] = "   "
    elif change == "numbers as text":
        frame["text"] = np.arange(len(frame))
    elif change == "label unseen in train":
        frame["split"] = ["test" if doc == "doc0" else "train" for doc in frame["doc"]]
        frame["unfair"] = frame["unfair"].astype(str)
        frame.loc[frame["doc"] == "doc0", "unfair"] = "2"
        options = {"split_column": "split"}
        task = "multiclass"
    elif change == "multilabel row without labels":
        task = "multilabel"
    elif change == "unknown split name":
        frame["split"] = "train"
        frame.loc[3, "split"] = "holdout"
        options = {"split_column": "split"}
    elif change == "missing column":
        options = {"group_column": "contract"}
    return write_table(frame, tmp_path / "bad.csv"), options, task


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("empty text", r"1 row\(s\) have an empty text in \['text'\] \(first: row 7\)"),
        ("numbers as text", "text column 'text' holds numbers"),
        ("label unseen in train", "label '2' appears in the test split but never in train"),
        ("multilabel row without labels", r"row\(s\) have no label .*empty_labels: keep"),
        ("unknown split name", "split column 'split' holds 'holdout' .*valid values: train"),
        ("missing column", "no column 'contract'; columns: doc, title"),
    ],
)
def test_bad_tables_are_one_line_errors(tmp_path: Path, change: str, message: str) -> None:
    path, options, task = _bad(tmp_path, change)
    with pytest.raises(DataError, match=message) as raised:
        _load(path, task, **options)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("name", "error"),
    [("gone.csv", DataError), ("table.xlsx", ConfigError)],
)
def test_unreadable_paths_are_named(tmp_path: Path, name: str, error: type[AutosftError]) -> None:
    with pytest.raises(error, match=name.replace(".", r"\.")):
        _load(tmp_path / name)


def test_a_multilabel_class_without_train_rows_is_refused(tmp_path: Path) -> None:
    frame = clauses()
    frame["split"] = ["test" if doc == "doc0" else "train" for doc in frame["doc"]]
    frame.loc[(frame["doc"] == "doc0") & (frame["labels"] == ""), "labels"] = "arbitration"
    path = write_table(frame, tmp_path / "t.csv")
    with pytest.raises(DataError, match="class 'arbitration' has no row in the train split"):
        _load(path, "multilabel", split_column="split", empty_labels="keep")


def test_options_refuse_a_column_in_two_roles() -> None:
    with pytest.raises(ValueError, match="one role only"):
        TextTableOptions.model_validate({"path": "t.csv", "label_columns": ["doc"], "group_column": "doc"})
    assert json.loads(TextTableOptions(path=Path("t.csv")).model_dump_json())["format"] == "auto"


@pytest.mark.skipif(not CLAUDETTE.is_file(), reason="the shared CLAUDETTE data (../shared/data/legal) is absent")
def test_the_claudette_table_loads_split_by_document() -> None:
    splits = _load(CLAUDETTE, split_column="split", group_column="doc")
    assert splits.info["rows"] == {"train": 10529, "val": 3038, "test": 3816}
    assert splits.info["groups"] == {"train": 30, "val": 10, "test": 10}
    assert splits.info["class_counts"]["train"] == {"0": 10529 - 834, "1": 834}
    multilabel = _load(CLAUDETTE, "multilabel", split_column="split", group_column="doc", empty_labels="keep")
    assert len(multilabel.class_names) == 8 and multilabel.train.labels.shape == (10529, 8)


def test_the_study_file_names_valid_components_and_options() -> None:
    config = load_study_file(REPO / "studies" / "legal-text.yaml")
    dataset_options, model_options, directions = check_components(config, collect_registry(get_plugin_manager()))
    assert isinstance(dataset_options, TextTableOptions) and dataset_options.group_column == "doc"
    assert model_options.model_dump()["name_or_path"] == "minilm" and directions == ["maximize"]


def test_texts_an_earlier_split_holds_can_be_dropped_from_validation_and_test(tmp_path: Path) -> None:
    frame = clauses()
    position = np.arange(len(frame)) % 5
    frame["split"] = np.where(position == 0, "test", np.where(position == 1, "validation", "train"))
    boilerplate = frame.loc[frame["split"] == "train", "text"].iloc[0]
    frame.loc[frame.index[[0, 5]], "text"] = ["  " + boilerplate.upper() + " ", boilerplate]  # test rows 0 and 5
    frame.loc[frame.index[1], "text"] = frame.loc[frame.index[10], "text"]  # a validation text repeated in test
    path = write_table(frame, tmp_path / "t.csv")
    kept = _load(path, text_columns=["text"], split_column="split")
    dropped = _load(path, text_columns=["text"], split_column="split", drop_repeated_texts=True)
    assert len(dropped.test) == len(kept.test) - 3 and len(dropped.val) == len(kept.val)
    assert dropped.info["dropped_repeated_texts"] == {"val": 0, "test": 3}
    seen = {" ".join(text.lower().split()) for text in (*dropped.train.inputs, *dropped.val.inputs)}
    assert not seen & {" ".join(text.lower().split()) for text in dropped.test.inputs}
