"""The ``tabular`` dataset on real temporary files: reading, roles, splits, preprocessing, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from autosft_fraud_tabular.data import TabularDataset, TabularOptions
from pydantic import ValidationError

from autosft.components import Splits
from autosft.errors import AutosftError, ConfigError, DataError


def load(path: Path, *, task: str = "binary", seed: int = 0, **options: Any) -> Splits:
    validated = TabularOptions(path=path, **{"target": "label", **options})
    return TabularDataset().load(validated, task=task, seed=seed)  # type: ignore[arg-type]


def write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_loads_mixed_types_with_missing_values(tmp_path: Path, table: pd.DataFrame, suffix: str) -> None:
    splits = load(write(table, tmp_path / f"t{suffix}"), drop=["id"])

    assert splits.input_kind == "tabular"
    assert splits.task == "binary"
    assert splits.class_names == ("0", "1")
    assert len(splits.train) + len(splits.val) + len(splits.test) == len(table)
    assert (len(splits.val), len(splits.test)) == (80, 80)
    for split in (splits.train, splits.val, splits.test):
        assert split.inputs.dtype == np.float32
        assert not np.isnan(split.inputs).any()
        assert split.labels.dtype == np.int64
    info = splits.info
    assert info["categorical_columns"] == ["channel", "is_foreign"]
    assert info["numeric_columns"] == ["amount", "n_items"]  # n_items has 3 values but stays numeric
    assert not any("id" in name.split("__")[-1] for name in info["feature_names"])
    assert splits.train.inputs.shape[1] == len(info["feature_names"]) == 2 + 3 + 2
    assert info["positive_rate"] == pytest.approx(table["label"].mean())
    assert sum(info["class_counts"]["train"].values()) == len(splits.train)
    assert len(splits.fingerprint) == 16
    assert splits.pretrain is None


def test_preprocessing_is_fitted_on_train_rows_only(tmp_path: Path, table: pd.DataFrame) -> None:
    table["amount"] = np.arange(len(table), dtype=float)  # a trend: train/val/test statistics differ
    splits = load(write(table, tmp_path / "t.csv"), numeric=["amount"], drop=["id"], time_column="n_items")
    column = splits.info["feature_names"].index("num__amount")

    train, test = splits.train.inputs[:, column], splits.test.inputs[:, column]
    assert train.mean() == pytest.approx(0.0, abs=1e-5)
    assert train.std() == pytest.approx(1.0, abs=1e-4)
    everything = np.concatenate([train, splits.val.inputs[:, column], test])
    assert abs(everything.mean()) > 0.01 or abs(everything.std() - 1) > 0.01


def test_median_imputation_uses_the_train_median(tmp_path: Path, table: pd.DataFrame) -> None:
    splits = load(write(table, tmp_path / "t.csv"), drop=["id"], split_seed=3)
    column = splits.info["feature_names"].index("num__amount")
    # A row imputed with the train median is exactly at the train median after scaling.
    train = splits.train.inputs[:, column]
    assert np.isclose(train, np.median(train)).sum() >= 1


def row_ids(splits: Splits, column: str, names: tuple[str, ...] = ("train", "val", "test")) -> dict[str, set[int]]:
    """Recover each row's ``id`` from a feature that is a monotone function of it (``amount = id``)."""
    index = splits.info["feature_names"].index(column)
    values = {name: getattr(splits, name).inputs[:, index] for name in names}
    ordered = np.sort(np.concatenate(list(values.values())))
    return {name: set(np.searchsorted(ordered, value).tolist()) for name, value in values.items()}


def test_time_split_puts_the_newest_rows_in_test(tmp_path: Path, table: pd.DataFrame) -> None:
    table["amount"] = table["id"].astype(float)
    days = pd.date_range("2024-01-01", periods=len(table), freq="D").astype(str)
    table["when"] = np.random.default_rng(1).permutation(days)
    table["label"] = np.arange(len(table)) % 3 == 0
    splits = load(write(table, tmp_path / "t.csv"), drop=["id"], time_column="when")

    assert splits.info["split"] == "time"
    assert not any("when" in name for name in splits.info["feature_names"])
    by_time = table.sort_values("when")["id"].tolist()
    ids = row_ids(splits, "num__amount")
    assert ids["test"] == set(by_time[-80:])
    assert ids["val"] == set(by_time[-160:-80])
    assert ids["train"] == set(by_time[:-160])


def test_segment_split_pretrains_on_the_other_segments(tmp_path: Path, make_table: Callable[..., pd.DataFrame]) -> None:
    table = make_table(rows=900, seed=4)
    table["region"] = np.array(["north", "south", "east"])[table["id"] % 3]
    table["amount"] = table["id"].astype(float)
    splits = load(write(table, tmp_path / "t.csv"), segment_column="region", target_segment="north", drop=["id"])

    assert splits.pretrain is not None
    assert splits.info["rows"] == {"train": 180, "val": 60, "test": 60, "pretrain": 600}
    assert not any("region" in name for name in splits.info["feature_names"])
    ids = row_ids(splits, "num__amount", ("train", "val", "test", "pretrain"))
    assert all(row % 3 == 0 for name in ("train", "val", "test") for row in ids[name])
    assert all(row % 3 != 0 for row in ids["pretrain"])
    assert len(ids["pretrain"]) == 600
    assert not ids["pretrain"] & (ids["val"] | ids["test"])


def test_time_and_segment_split_keep_future_source_rows_out_of_pretraining(
    tmp_path: Path, make_table: Callable[..., pd.DataFrame]
) -> None:
    table = make_table(rows=600, seed=5)
    table["region"] = np.where(table["id"] % 2 == 0, "a", "b")
    table["when"] = pd.date_range("2024-01-01", periods=len(table), freq="h").astype(str)
    table["amount"] = table["id"].astype(float)
    splits = load(
        write(table, tmp_path / "t.csv"),
        segment_column="region",
        target_segment="a",
        time_column="when",
        drop=["id"],
    )
    ids = row_ids(splits, "num__amount", ("train", "val", "test", "pretrain"))
    assert max(ids["pretrain"]) < max(ids["train"])
    assert splits.info["pretrain_rows_dropped"] == 300 - len(ids["pretrain"]) > 0


def test_pretrain_path_supplies_the_source_population(tmp_path: Path, make_table: Callable[..., pd.DataFrame]) -> None:
    target = write(make_table(rows=300, seed=1), tmp_path / "target.csv")
    source = write(make_table(rows=500, seed=2), tmp_path / "source.parquet")
    splits = load(target, drop=["id"], pretrain_path=source)

    assert splits.pretrain is not None
    assert len(splits.pretrain) == 500
    assert splits.pretrain.inputs.shape[1] == splits.train.inputs.shape[1]
    assert splits.info["rows"]["pretrain"] == 500


def test_positive_label_defaults_to_the_minority_and_can_be_chosen(tmp_path: Path, table: pd.DataFrame) -> None:
    table["label"] = np.where(table["label"] == 1, "fraud", "ok")
    path = write(table, tmp_path / "t.csv")
    assert load(path).class_names == ("ok", "fraud")
    chosen = load(path, positive_label="ok")
    assert chosen.class_names == ("fraud", "ok")
    assert chosen.info["positive_rate"] == pytest.approx((table["label"] == "ok").mean())


def test_multiclass_labels_are_indexed_in_value_order(tmp_path: Path, table: pd.DataFrame) -> None:
    table["label"] = np.arange(len(table)) % 3 * 5  # 0, 5, 10: numeric order, not string order
    splits = load(write(table, tmp_path / "t.csv"), task="multiclass")
    assert splits.class_names == ("0", "5", "10")
    assert set(np.unique(splits.train.labels)) == {0, 1, 2}


def test_fingerprint_follows_content_options_and_seed(tmp_path: Path, table: pd.DataFrame) -> None:
    path = write(table, tmp_path / "t.csv")
    first = load(path).fingerprint
    assert load(path).fingerprint == first
    assert load(path, seed=1).fingerprint != first
    assert load(path, drop=["id"]).fingerprint != first
    table.loc[0, "amount"] = 1e6
    assert load(write(table, tmp_path / "t.csv")).fingerprint != first
    moved = write(table, tmp_path / "moved.csv")
    assert load(moved).fingerprint == load(tmp_path / "t.csv").fingerprint


def test_split_seed_overrides_the_study_seed(tmp_path: Path, table: pd.DataFrame) -> None:
    path = write(table, tmp_path / "t.csv")
    a, b = load(path, seed=1, split_seed=7), load(path, seed=2, split_seed=7)
    assert np.array_equal(a.test.inputs, b.test.inputs)
    assert not np.array_equal(load(path, seed=1).test.inputs, load(path, seed=2).test.inputs)


# --------------------------------------------------------------------------------------------
# Bad input: each a one-line error naming the problem
# --------------------------------------------------------------------------------------------

Case = Callable[[Path, pd.DataFrame], Path]


def _csv(edit: Callable[[pd.DataFrame], pd.DataFrame] = lambda frame: frame) -> Case:
    return lambda folder, table: write(edit(table), folder / "t.csv")


def _raw(name: str, content: bytes) -> Case:
    def case(folder: Path, table: pd.DataFrame) -> Path:
        (folder / name).write_bytes(content)
        return folder / name

    return case


def _nan_labels(frame: pd.DataFrame) -> pd.DataFrame:
    frame["label"] = frame["label"].astype(float)
    frame.loc[[3, 5, 8], "label"] = np.nan
    return frame


def _rare_positive_in_old_rows(frame: pd.DataFrame) -> pd.DataFrame:
    frame["label"] = 0
    frame.loc[:20, "label"] = 1
    frame["when"] = pd.date_range("2024-01-01", periods=len(frame), freq="h").astype(str)
    return frame


BAD_INPUT = [
    pytest.param(
        _raw("missing.csv", b""),
        {"path": "gone.csv"},
        DataError,
        ["'", "gone.csv", "does not exist"],
        id="missing",
    ),
    pytest.param(_raw("t.csv", b""), {}, DataError, ["t.csv", "empty"], id="empty-file"),
    pytest.param(_raw("t.csv", b"a,label\n"), {}, DataError, ["t.csv", "no rows"], id="header-only"),
    pytest.param(
        _raw("t.xlsx", b"x"), {}, ConfigError, ["unsupported suffix '.xlsx'", ".csv", ".parquet"], id="suffix"
    ),
    pytest.param(
        _raw("t.parquet", b"not parquet at all"),
        {},
        DataError,
        ["cannot read parquet", "t.parquet"],
        id="corrupt",
    ),
    pytest.param(
        _csv(),
        {"target": "fraud"},
        DataError,
        ["target column 'fraud'", "available columns", "amount"],
        id="target",
    ),
    pytest.param(_csv(_nan_labels), {}, DataError, ["'label'", "no label in 3 rows"], id="nan-labels"),
    pytest.param(_csv(lambda f: f.assign(label=1)), {}, DataError, ["'label'", "only one class"], id="one-class"),
    pytest.param(
        _csv(),
        {"categorical": ["colour"]},
        DataError,
        ["categorical column 'colour'", "t.csv"],
        id="categorical",
    ),
    pytest.param(_csv(), {"numeric": ["size"]}, DataError, ["numeric column 'size'"], id="numeric"),
    pytest.param(_csv(), {"drop": ["uuid"]}, DataError, ["drop column 'uuid'"], id="drop"),
    pytest.param(_csv(), {"time_column": "ts"}, DataError, ["time_column column 'ts'"], id="time-absent"),
    pytest.param(
        _csv(),
        {"segment_column": "zone", "target_segment": "a"},
        DataError,
        ["segment_column column 'zone'"],
        id="segment-absent",
    ),
    pytest.param(
        _csv(lambda f: f.assign(zone=np.where(f["id"] % 2 == 0, "seg_a", "seg_b"))),
        {"segment_column": "zone", "target_segment": "mars"},
        DataError,
        ["target_segment 'mars'", "available segments: seg_a, seg_b"],
        id="segment-no-rows",
    ),
    pytest.param(
        _csv(lambda f: f.assign(label=(f["id"] < 2).astype(int))),
        {},
        DataError,
        ["every class", "'1'"],
        id="too-few",
    ),
    pytest.param(
        _csv(_rare_positive_in_old_rows),
        {"time_column": "when"},
        DataError,
        ["val split", "no row of class '1'"],
        id="time-split-class",
    ),
    pytest.param(
        _csv(lambda f: f.assign(when=["yesterday"] + ["2024-01-02"] * (len(f) - 1))),
        {"time_column": "when"},
        DataError,
        ["time_column 'when'", "not dates", "'yesterday'"],
        id="time-unparseable",
    ),
    pytest.param(
        _csv(lambda f: f.assign(label=f["id"] % 3)),
        {},
        DataError,
        ["binary needs 2", "multiclass"],
        id="three-labels",
    ),
    pytest.param(
        _csv(),
        {"positive_label": "yes"},
        DataError,
        ["positive_label 'yes'", "values: 0, 1"],
        id="positive-label",
    ),
    pytest.param(
        _csv(lambda f: f.assign(amount=["12", "x1"] * (len(f) // 2))),
        {"numeric": ["amount"]},
        DataError,
        ["numeric column 'amount'", "'x1'"],
        id="non-numeric",
    ),
]


@pytest.mark.parametrize(("case", "options", "error", "words"), BAD_INPUT)
def test_bad_input_raises_a_one_line_error(
    tmp_path: Path,
    table: pd.DataFrame,
    case: Case,
    options: dict[str, Any],
    error: type[AutosftError],
    words: list[str],
) -> None:
    path = case(tmp_path, table)
    options = {"path": path, **options}
    if not Path(options["path"]).is_absolute():
        options["path"] = tmp_path / options["path"]
    with pytest.raises(error) as raised:
        load(**options)
    message = str(raised.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_multilabel_is_refused(tmp_path: Path, table: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match=r"binary or multiclass.*'multilabel'"):
        load(write(table, tmp_path / "t.csv"), task="multilabel")


def test_pretrain_file_must_hold_the_feature_columns(tmp_path: Path, make_table: Callable[..., pd.DataFrame]) -> None:
    target = write(make_table(rows=300), tmp_path / "target.csv")
    source = write(make_table(rows=300).drop(columns=["channel"]), tmp_path / "source.csv")
    with pytest.raises(DataError, match=r"source\.csv.*lacks column 'channel'"):
        load(target, pretrain_path=source)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "val_fraction + test_fraction < 1"),
        ({"segment_column": "zone"}, "segment_column and target_segment"),
        ({"segment_column": "z", "target_segment": "a", "pretrain_path": "p.csv"}, "not both"),
        ({"drop": ["label"]}, "'label' is listed as both target and drop"),
        ({"categorical": ["a"], "numeric": ["a"]}, "both categorical and numeric"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
def test_options_reject_inconsistent_settings(options: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words.replace("+", r"\+")):
        TabularOptions(path=Path("t.csv"), target="label", **options)


def test_german_credit_loads_with_its_known_balance(shared_data: Path) -> None:
    path = shared_data / "finance" / "german_credit" / "german_credit.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    splits = load(path, target="is_bad", drop=["class"])

    rows = splits.info["rows"]
    assert rows["train"] + rows["val"] + rows["test"] == 1000
    assert splits.class_names == ("0", "1")
    assert splits.info["positive_rate"] == pytest.approx(0.30)
    assert len(splits.info["categorical_columns"]) == 13
    assert len(splits.info["numeric_columns"]) == 7


def test_load_new_applies_the_train_splits_preprocessing_without_refitting(table: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    options = TabularOptions(path=path, target="label", drop=["id"])
    splits = TabularDataset().load(options, task="binary", seed=0)
    same = TabularDataset().load_new(options, path, task="binary", seed=0)
    assert len(same) == len(table) and same.labels is not None
    rows = {tuple(np.round(row, 5)) for row in same.inputs}
    assert all(tuple(np.round(row, 5)) in rows for row in splits.train.inputs)  # the train rows, encoded alike

    shifted = table.assign(amount=table["amount"] * 3).drop(columns=["label"])
    shifted.to_csv(tmp_path / "shifted.csv", index=False)
    new = TabularDataset().load_new(options, tmp_path / "shifted.csv", task="binary", seed=0)
    amount = splits.info["feature_names"].index("num__amount")
    assert new.labels is None and np.nanmean(new.inputs[:, amount]) > 1  # scaled by train's scaler: far off
    assert set(new.features) == set(new.train_features) == {"amount", "n_items", "channel", "is_foreign"}
    assert len(new.train_features["amount"]) == len(splits.train)

    table.drop(columns=["channel"]).to_csv(tmp_path / "no_channel.csv", index=False)
    with pytest.raises(DataError, match="lacks feature column 'channel'"):
        TabularDataset().load_new(options, tmp_path / "no_channel.csv", task="binary", seed=0)
