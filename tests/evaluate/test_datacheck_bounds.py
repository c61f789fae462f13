"""The data check stays bounded on large data: rows subsampled, label errors skipped where they do not
apply or would not finish, a time bound, and a notice for each of these."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from autosft.components import DataSplit, Splits
from autosft.evaluate.datacheck import MAX_EMBEDDED_ROWS, MAX_LABEL_CLASSES, check_splits, render
from autosft.testing import ToyBlobs


def _ranking(rows: int, items: int, seed: int = 0) -> Splits:
    """Next-item rows shaped like the retail plugin's: a history of item ids, the next item as label,
    heavy-tailed popularity, every item the next item of a few rows (so a model could be fitted
    over all of them), item names as numpy strings."""
    rng = np.random.default_rng(seed)
    parts = {}
    for name, share in (("train", 0.6), ("val", 0.2), ("test", 0.2)):
        history = rng.zipf(1.3, (int(rows * share), 20)) % items
        labels = (history[:, -1] + 1) % items
        labels[: 3 * items] = np.tile(np.arange(items), 3)[: len(labels)]
        inputs = {"items": history.astype(np.int64), "exclude_seen": np.ones(len(history), dtype=np.int64)}
        parts[name] = DataSplit(inputs, labels)
    names = tuple(np.str_(f"item_{item}") for item in range(items))
    return Splits(parts["train"], parts["val"], parts["test"], "ranking", names, "sequence", "ranking")


def test_a_large_ranking_study_is_checked_on_a_sample_without_label_errors() -> None:
    """2,412 item classes over 24,000 rows: the label-error model over all classes ran for minutes."""
    splits = _ranking(24_000, 2_412)
    report = check_splits(splits)
    notices = [finding.message for finding in report.notices]
    assert any(m.startswith("label errors: not checked on ranking") for m in notices), notices
    assert any(m.startswith("class balance: not checked on ranking") for m in notices), notices
    assert any(m.startswith("label conflicts: not checked on ranking") for m in notices), notices
    [sampled] = [m for m in notices if m.startswith("near duplicates and label errors: on a random sample")]
    assert f"train {MAX_EMBEDDED_ROWS:,} of 14,400 rows" in sampled
    assert report.label_suspects == []
    assert len([f for f in report.findings if f.check == "class balance"]) == 0  # not 2,412 warnings
    near = [f for f in report.findings if f.check == "near duplicates"]
    assert all(max(rows) < len(getattr(splits, split)) for f in near for split, rows in f.rows.items())
    rendered = render(report)[1]  # rows per class: a readable table, not 2,414 columns
    assert len(rendered.columns) == 22 and "first 20 of 2412" in str(rendered.title)


def test_subsampled_rows_are_reported_as_rows_of_the_whole_split() -> None:
    splits = ToyBlobs().load(ToyBlobs.Options(rows=2 * MAX_EMBEDDED_ROWS + 600, classes=3, separation=3.0),
                             task="multiclass", seed=0)  # fmt: skip
    labels = splits.train.labels.copy()
    flipped = np.arange(0, len(labels), 97)
    labels[flipped] = (labels[flipped] + 1) % 3
    report = check_splits(replace(splits, train=DataSplit(splits.train.inputs, labels)))
    assert any("train 10,000 of 20,600 rows" in finding.message for finding in report.notices)
    suspects = [(s["row"], s["given"]) for s in report.label_suspects if s["split"] == "train"]
    assert suspects and all(labels[row] == int(given.split("_")[-1]) for row, given in suspects)
    assert sum(row in set(flipped) for row, _ in suspects) >= len(suspects) // 2


def test_label_errors_are_skipped_above_the_class_cap_and_after_the_time_bound() -> None:
    many = ToyBlobs().load(ToyBlobs.Options(rows=4 * MAX_LABEL_CLASSES, classes=MAX_LABEL_CLASSES + 1),
                           task="multiclass", seed=0)  # fmt: skip
    [skipped] = [f.message for f in check_splits(many).notices if f.message.startswith("label errors")]
    assert f"{MAX_LABEL_CLASSES + 1} classes, over the {MAX_LABEL_CLASSES}" in skipped
    few = ToyBlobs().load(ToyBlobs.Options(rows=300), task="binary", seed=0)
    report = check_splits(few, seconds=0.0)
    assert [f.message.split(":")[0] for f in report.notices] == ["near duplicates"]
    assert not [f for f in report.findings if f.check in {"near duplicates", "label errors"}]
    assert report.errors == []


def test_messages_name_classes_as_plain_text() -> None:
    splits = ToyBlobs().load(ToyBlobs.Options(rows=300, positive_rate=0.03), task="binary", seed=0)
    splits = replace(splits, class_names=tuple(np.str_(name) for name in ("class_0", "class_1")))
    report = check_splits(splits)
    messages = " ".join(finding.message for finding in report.findings)
    assert "'class_1'" in messages and "np.str_" not in messages
    assert all(type(name) is str for name in report.class_names)
