"""Data checks before a search: leakage, duplicates, missing values, label conflicts and errors.

Everything works on :class:`~autosft.components.Splits`, so every plugin's data (tables, images,
token ids) is checked the same way (see :mod:`autosft.evaluate.rows`). Errors are what makes a
search's result meaningless or training impossible (a test row copied into train, NaN inputs, a
split with one class); `autosft search` refuses to start on them. Warnings are worth a look but
do not block: duplicates within a split, near-duplicates across splits, conflicting labels,
imbalance, likely label errors.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from rich.table import Table
from threadpoolctl import threadpool_limits

from autosft.attrs import DATA_CHECK_ATTR
from autosft.components import DataSplit, Splits, class_counts
from autosft.errors import DataError
from autosft.evaluate.label_issues import find_label_issues
from autosft.evaluate.rows import embed, missing_rows, row_keys

__all__ = ["DATA_CHECK_ATTR", "NEAR_RATIO", "DataReport", "Finding", "check_splits", "refuse_errors", "render"]


Severity = Literal["error", "warning", "info"]
#: Rows closer than this share of the typical nearest-neighbour distance in train are near-duplicates.
NEAR_RATIO = 0.05
#: A training class below this share is reported as rare.
RARE_SHARE = 0.05
#: Fewer rows of a class than this in validation or test make its metrics noisy.
FEW_EVALUATION_ROWS = 10
#: Row indices kept per finding and label suspects kept in the report.
EXAMPLES = 20
#: Exact copies of more than this share of a split in an earlier split are an error (a warning below
#: it): one copied image in BreastMNIST's 156 test images moves a metric by well under a point.
LEAKAGE_TOLERANCE = 0.01
#: Split pairs where a shared row means the second split's score was partly seen in training.
LEAKAGE_PAIRS = (("train", "val"), ("train", "test"), ("val", "test"), ("pretrain", "val"), ("pretrain", "test"))
EVALUATED = ("train", "val", "test")


@dataclass(frozen=True)
class Finding:
    """One result of one check; ``rows`` holds example row indices per split."""

    severity: Severity
    check: str
    message: str
    count: int = 0
    rows: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class DataReport:
    """Every finding on a study's data, the class counts per split, and the likeliest label errors."""

    fingerprint: str
    class_names: tuple[str, ...]
    rows: dict[str, int]
    class_counts: dict[str, list[int]]
    findings: list[Finding] = field(default_factory=list)
    label_suspects: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def errors(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity == "warning"]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``autosft check-data --out``, and the study's user attribute)."""
        record = asdict(self)
        record["class_names"] = list(self.class_names)
        record["errors"] = len(self.errors)
        record["warnings"] = len(self.warnings)
        return record

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n", encoding="utf-8")


def _named(splits: Splits) -> dict[str, DataSplit]:
    named = {"train": splits.train, "val": splits.val, "test": splits.test}
    if splits.pretrain is not None:
        named["pretrain"] = splits.pretrain
    return named


def _examples(rows: np.ndarray | list[int]) -> list[int]:
    return [int(row) for row in list(rows)[:EXAMPLES]]


def _check_labels(splits: Splits, named: dict[str, DataSplit]) -> Iterator[Finding]:
    """Labels the engine cannot train on: wrong shape, classes out of range, non-finite values."""
    classes = splits.num_classes
    multilabel = splits.task == "multilabel"
    valid = f"a 0/1 matrix with {classes} columns" if multilabel else f"class indices 0..{classes - 1}"
    for name, split in named.items():
        labels = np.asarray(split.labels)
        if labels.ndim != (2 if multilabel else 1) or (multilabel and labels.shape[1] != classes):
            yield Finding("error", "labels", f"{name}: labels shaped {labels.shape}, but {splits.task} needs {valid}")
            continue
        if multilabel:
            bad = ~np.isin(labels, (0, 1)).all(axis=1)
        else:
            values = labels.astype(np.float64)
            with np.errstate(invalid="ignore"):
                bad = ~np.isfinite(values) | (values < 0) | (values >= classes) | (np.round(values) != values)
        if bad.any():
            yield Finding("error", "labels", f"{name}: {int(bad.sum())} labels are not {valid}", int(bad.sum()),
                          {name: _examples(np.flatnonzero(bad))})  # fmt: skip


def _check_missing(named: dict[str, DataSplit]) -> Iterator[Finding]:
    for name, split in named.items():
        flags, arrays = missing_rows(split.inputs)
        if flags.any():
            yield Finding("error", "missing values",
                          f"{name}: {int(flags.sum())} rows hold NaN or infinite values (in {', '.join(arrays)})",
                          int(flags.sum()), {name: _examples(np.flatnonzero(flags))})  # fmt: skip


def _check_classes(splits: Splits, counts: dict[str, np.ndarray], keys: dict[str, list[bytes]]) -> Iterator[Finding]:
    """Constant and single-class splits, classes missing from train, rare classes, class summary."""
    names = splits.class_names
    for name in EVALUATED:
        if not keys[name] and name == "test":  # the search runs; the final test and export refuse it
            yield Finding("warning", "empty split", "test: no rows, so there will be no held-out test score")
            continue
        if len(keys[name]) > 1 and len(set(keys[name])) == 1:
            yield Finding("error", "constant split", f"{name}: all {len(keys[name])} rows have identical inputs")
        if splits.task == "multilabel":
            constant = [names[c] for c, count in enumerate(counts[name]) if count in (0, len(keys[name]))]
            if constant:
                yield Finding("warning", "single-class split",
                              f"{name}: label(s) {', '.join(constant)} take one value on every row")  # fmt: skip
        elif np.count_nonzero(counts[name]) < 2:
            present = ", ".join(names[c] for c in np.flatnonzero(counts[name])) or "none"
            yield Finding("error", "single-class split", f"{name}: one class only ({present})")
    train = counts["train"]
    total = max(len(keys["train"]), 1)
    for index, count in enumerate(train):
        if count == 0:
            yield Finding("warning", "class balance", f"train: class {names[index]!r} has no rows")
        elif count / total < RARE_SHARE:
            yield Finding("warning", "class balance",
                          f"train: class {names[index]!r} is rare ({count} rows, {count / total:.1%})")  # fmt: skip
    for name in ("val", "test"):
        few = [f"{names[c]!r} ({count})" for c, count in enumerate(counts[name]) if count < FEW_EVALUATION_ROWS]
        if few:
            yield Finding("warning", "class balance",
                          f"{name}: few rows of {', '.join(few)}: its scores will be noisy")  # fmt: skip
    shares = ", ".join(f"{names[c]} {count / total:.1%}" for c, count in enumerate(train))
    yield Finding("info", "class balance", f"train class shares: {shares}")


def _check_exact(named: dict[str, DataSplit], keys: dict[str, list[bytes]]) -> Iterator[Finding]:
    """Exact copies within a split (warning) and across splits (leakage: an error)."""
    for name in EVALUATED:
        seen: set[bytes] = set()
        copies = []
        for row, key in enumerate(keys[name]):
            if key in seen:
                copies.append(row)
            seen.add(key)
        if copies:
            yield Finding("warning", "exact duplicates",
                          f"{name}: {len(copies)} rows repeat an earlier row of {name}", len(copies),
                          {name: _examples(copies)})  # fmt: skip
    for source, target in LEAKAGE_PAIRS:
        if source not in keys:
            continue
        known = set(keys[source])
        leaked = [row for row, key in enumerate(keys[target]) if key in known]
        if leaked:
            share = len(leaked) / len(keys[target])
            yield Finding("error" if share > LEAKAGE_TOLERANCE else "warning", "leakage",
                          f"{target}: {len(leaked)} of {len(keys[target])} rows also appear in {source} "
                          f"({share:.1%}): their scores were partly seen in training",
                          len(leaked), {target: _examples(leaked)})  # fmt: skip


def _check_conflicts(named: dict[str, DataSplit], keys: dict[str, list[bytes]]) -> Iterator[Finding]:
    """The same input with different labels, within or across the evaluated splits."""
    labels_of: dict[bytes, set[bytes]] = defaultdict(set)
    where: dict[bytes, list[tuple[str, int]]] = defaultdict(list)
    for name in EVALUATED:
        labels = named[name].labels
        for row, key in enumerate(keys[name]):
            labels_of[key].add(np.asarray(labels[row]).tobytes())
            where[key].append((name, row))
    conflicting = [key for key, labels in labels_of.items() if len(labels) > 1]
    if conflicting:
        rows: dict[str, list[int]] = defaultdict(list)
        for key in conflicting:
            for name, row in where[key]:
                rows[name].append(row)
        yield Finding("warning", "label conflicts",
                      f"{len(conflicting)} distinct input(s) appear with different labels "
                      f"({sum(len(where[key]) for key in conflicting)} rows)",
                      len(conflicting), {name: _examples(found) for name, found in rows.items()})  # fmt: skip


def _nearest_other(
    query: np.ndarray, reference: np.ndarray, query_keys: list[bytes], reference_keys: list[bytes], same: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per query row, the distance to the nearest reference row with other inputs, and its index."""
    from sklearn.neighbors import NearestNeighbors

    k = min(len(reference), 8)
    distances, indices = NearestNeighbors(n_neighbors=k).fit(reference).kneighbors(query)
    query_key = np.array(query_keys, dtype=object)[:, None]
    differs = np.array(reference_keys, dtype=object)[indices] != query_key
    if same:
        differs &= indices != np.arange(len(query))[:, None]
    distances = np.where(differs, distances, np.inf)
    first = distances.argmin(axis=1)
    rows = np.arange(len(query))
    return distances[rows, first], indices[rows, first]


def _check_near(vectors: dict[str, np.ndarray], keys: dict[str, list[bytes]], ratio: float) -> Iterator[Finding]:
    """Rows much closer to another row than rows usually are (resized, re-encoded, jittered copies)."""
    if min(len(keys[name]) for name in EVALUATED) < 2:
        return
    within_train, _ = _nearest_other(vectors["train"], vectors["train"], keys["train"], keys["train"], True)
    typical = float(np.median(within_train[np.isfinite(within_train)])) if np.isfinite(within_train).any() else 0.0
    if typical <= 0:
        return
    threshold = ratio * typical
    pairs = [(name, name) for name in EVALUATED] + [pair for pair in LEAKAGE_PAIRS if pair[0] != "pretrain"]
    for source, target in pairs:
        same = source == target
        distance, _ = _nearest_other(vectors[target], vectors[source], keys[target], keys[source], same)
        near = np.flatnonzero(distance <= threshold)
        if not len(near):
            continue
        if same:
            message = f"{target}: {len(near)} rows have a near-duplicate in {target}"
        else:
            message = (
                f"{target}: {len(near)} rows have a near-duplicate in {source} ({len(near) / len(keys[target]):.1%})"
            )
        yield Finding("info" if same else "warning", "near duplicates",
                      f"{message} (distance under {ratio:g} x the typical nearest-neighbour distance)",
                      len(near), {target: _examples(near)})  # fmt: skip


def _check_label_errors(
    splits: Splits, vectors: dict[str, np.ndarray], seed: int, report: DataReport
) -> Iterator[Finding]:
    parts = [getattr(splits, name) for name in EVALUATED]
    features = np.concatenate([vectors[name] for name in EVALUATED])
    labels = np.concatenate([part.labels for part in parts])
    suspects = find_label_issues(features, labels.astype(np.int64), seed=seed)
    if suspects is None:
        yield Finding("info", "label errors", "not checked: a class has fewer than two rows")
        return
    offsets = np.cumsum([0] + [len(part) for part in parts])
    names = splits.class_names
    for position, row in enumerate(suspects.rows[:EXAMPLES]):
        split = int(np.searchsorted(offsets, row, side="right") - 1)
        column = None if suspects.label_column is None else int(suspects.label_column[position])
        given, suggested = int(suspects.given[position]), int(suspects.suggested[position])
        report.label_suspects.append({
            "split": EVALUATED[split],
            "row": int(row - offsets[split]),
            "given": names[given] if column is None else f"{names[column]}={given}",
            "suggested": names[suggested] if column is None else f"{names[column]}={suggested}",
            "relative_confidence": round(float(suspects.score[position]), 4),
        })  # fmt: skip
    count = len(suspects.rows)
    if count:
        yield Finding("warning", "label errors",
                      f"a cheap model (out-of-fold accuracy {suspects.model_accuracy:.1%}) confidently disagrees "
                      f"with {count} labels ({count / len(labels):.1%}); review the top suspects", count)  # fmt: skip
    else:
        yield Finding(
            "info",
            "label errors",
            f"no likely label errors (cheap model's out-of-fold accuracy {suspects.model_accuracy:.1%})",
        )


def _run_checks(
    splits: Splits,
    named: dict[str, DataSplit],
    counts: dict[str, np.ndarray],
    seed: int,
    near_ratio: float,
    findings: list[Finding],
    report: DataReport,
) -> None:
    keys = {name: row_keys(split.inputs) for name, split in named.items()}
    findings += _check_missing(named)
    findings += _check_classes(splits, counts, keys)
    findings += _check_exact(named, keys)
    findings += _check_conflicts(named, keys)
    inputs = [getattr(splits, name).inputs for name in EVALUATED]
    vectors = dict(zip(EVALUATED, embed(inputs, seed=seed), strict=True))
    if vectors["train"].shape[1] == 0:  # nothing varies: the constant-split error says it all
        return
    findings += _check_near(vectors, keys, near_ratio)
    findings += _check_label_errors(splits, vectors, seed, report)


def check_splits(splits: Splits, *, seed: int = 0, near_ratio: float = NEAR_RATIO) -> DataReport:
    """Run every check on ``splits``; errors first in the report's findings."""
    started = time.perf_counter()
    named = _named(splits)
    report = DataReport(splits.fingerprint, tuple(splits.class_names), {name: len(s) for name, s in named.items()}, {})
    findings = list(_check_labels(splits, named))
    if not findings:  # the rest assumes labels the engine could train on
        counts = {name: class_counts(split.labels, splits.num_classes) for name, split in named.items()}
        report.class_counts = {name: [int(count) for count in counts[name]] for name in EVALUATED}
        # One BLAS thread: these matrices are small, and on a shared machine threads only contend
        # (BreastMNIST: 0.2 s with one thread, over 5 s with the default pool on two busy cores).
        with threadpool_limits(limits=1):
            _run_checks(splits, named, counts, seed, near_ratio, findings, report)
    order = {"error": 0, "warning": 1, "info": 2}
    report.findings = sorted(findings, key=lambda finding: order[finding.severity])
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def refuse_errors(report: DataReport) -> None:
    """Raise :class:`DataError` naming every error of ``report``; a report without errors passes."""
    if report.errors:
        found = "; ".join(finding.message for finding in report.errors)
        raise DataError(
            f"the data check found {len(report.errors)} error(s): {found}. See `autosft check-data STUDY.yaml` "
            "for details, or search anyway with --skip-data-check"
        )


_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


def render(report: DataReport, *, suspects: int = 10) -> list[Table]:
    """Rich tables: the findings, the rows and classes per split, and the top label suspects."""
    findings = Table(title=f"data check ({report.seconds:.1f}s)")
    for column in ("severity", "check", "finding", "example rows"):
        findings.add_column(column, overflow="fold")
    for finding in report.findings:
        examples = "; ".join(f"{name} {', '.join(map(str, rows[:8]))}" for name, rows in finding.rows.items())
        findings.add_row(f"[{_STYLE[finding.severity]}]{finding.severity}[/]", finding.check, finding.message, examples)
    classes = Table(title="rows per class")
    classes.add_column("split")
    classes.add_column("rows", justify="right")
    for name in report.class_names:
        classes.add_column(name, justify="right")
    for split, counts in report.class_counts.items():
        classes.add_row(split, str(report.rows[split]), *map(str, counts))
    tables = [findings, classes]
    if report.label_suspects and suspects:
        top = Table(title=f"likeliest label errors (top {min(suspects, len(report.label_suspects))})")
        for column in ("split", "row", "given", "suggested", "confidence / class threshold"):
            top.add_column(column, justify="right" if column in {"row", "confidence / class threshold"} else "left")
        for suspect in report.label_suspects[:suspects]:
            top.add_row(suspect["split"], str(suspect["row"]), suspect["given"], suspect["suggested"],
                        f"{suspect['relative_confidence']:.3f}")  # fmt: skip
        tables.append(top)
    return tables
