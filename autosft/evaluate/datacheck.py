"""Data checks before a search: leakage, duplicates, missing values, label conflicts and errors.

Everything works on :class:`~autosft.components.Splits`, so every plugin's data (tables, images,
token ids) is checked the same way (see :mod:`autosft.evaluate.rows`). Errors are what makes a
search's result meaningless or training impossible (a test row copied into train, NaN inputs, a
split with one class); `autosft search` refuses to start on them. Warnings are worth a look but
do not block: duplicates within a split, near-duplicates across splits, conflicting labels,
imbalance, likely label errors.

Every check is bounded, so a large study is checked in seconds, not minutes: the checks on row
embeddings (near duplicates, label errors) see at most :data:`MAX_EMBEDDED_ROWS` rows per split,
the label-error model is fitted only up to :data:`MAX_LABEL_CLASSES` classes, and once the check
has run :data:`CHECK_SECONDS` the slow checks still to come are skipped. What does not apply is
skipped (label errors, conflicts and class balance on ``ranking``, whose classes are items).
Each such decision is a ``scope`` finding that says what and why; a search prints those lines.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from autosft.attrs import DATA_CHECK_ATTR
from autosft.components import DataSplit, Splits, class_counts
from autosft.errors import DataError
from autosft.evaluate.datareport import SCOPE, DataReport, Finding, examples, render, scope_notice
from autosft.evaluate.embedded import (
    MAX_EMBEDDED_ROWS,
    MAX_LABEL_CLASSES,
    check_label_errors,
    check_near,
    embed_sample,
    label_errors_skipped,
)
from autosft.evaluate.repeats import DROPPED_REPEATS_INFO, EVALUATED, LEAKAGE_PAIRS
from autosft.evaluate.rows import missing_rows, row_keys

__all__ = [
    "CHECK_SECONDS",
    "DATA_CHECK_ATTR",
    "MAX_EMBEDDED_ROWS",
    "MAX_LABEL_CLASSES",
    "NEAR_RATIO",
    "DataReport",
    "Finding",
    "check_splits",
    "refuse_errors",
    "render",
]


#: Rows closer than this share of the typical nearest-neighbour distance in train are near-duplicates.
NEAR_RATIO = 0.05
#: A training class below this share is reported as rare.
RARE_SHARE = 0.05
#: Fewer rows of a class than this in validation or test make its metrics noisy.
FEW_EVALUATION_ROWS = 10
#: Exact copies of more than this share of a split in an earlier split are an error (a warning below
#: it): one copied image in BreastMNIST's 156 test images moves a metric by well under a point.
LEAKAGE_TOLERANCE = 0.01
#: Once the check has run this long, the slow checks still to come are skipped (a backstop: the
#: row and class caps keep a check well under it).
CHECK_SECONDS = 120.0
#: Class names listed in one finding; the rest are counted.
LISTED_CLASSES = 20


def _named(splits: Splits) -> dict[str, DataSplit]:
    named = {"train": splits.train, "val": splits.val, "test": splits.test}
    if splits.pretrain is not None:
        named["pretrain"] = splits.pretrain
    return named


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
                          {name: examples(np.flatnonzero(bad))})  # fmt: skip


def _check_missing(named: dict[str, DataSplit]) -> Iterator[Finding]:
    for name, split in named.items():
        flags, arrays = missing_rows(split.inputs)
        if flags.any():
            yield Finding("error", "missing values",
                          f"{name}: {int(flags.sum())} rows hold NaN or infinite values (in {', '.join(arrays)})",
                          int(flags.sum()), {name: examples(np.flatnonzero(flags))})  # fmt: skip


def _listed(names: list[str]) -> str:
    more = len(names) - LISTED_CLASSES
    return ", ".join(names[:LISTED_CLASSES]) + (f" and {more} more" if more > 0 else "")


def _check_classes(splits: Splits, counts: dict[str, np.ndarray], keys: dict[str, list[bytes]]) -> Iterator[Finding]:
    """Constant and single-class splits, classes missing from train, rare classes, class summary."""
    names = [str(name) for name in splits.class_names]  # plain text, whatever the plugin's type (np.str_)
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
                              f"{name}: label(s) {_listed(constant)} take one value on every row")  # fmt: skip
        elif np.count_nonzero(counts[name]) < 2:
            present = ", ".join(names[c] for c in np.flatnonzero(counts[name])) or "none"
            yield Finding("error", "single-class split", f"{name}: one class only ({present})")
    if splits.task == "ranking":
        yield scope_notice("class balance", "not checked on ranking, where every item is a class and most are rare")
        return
    yield from _check_balance(names, counts, max(len(keys["train"]), 1))


def _check_balance(names: list[str], counts: dict[str, np.ndarray], total: int) -> Iterator[Finding]:
    train = counts["train"]
    empty = [repr(names[c]) for c, count in enumerate(train) if count == 0]
    if empty:
        yield Finding("warning", "class balance", f"train: no rows of class(es) {_listed(empty)}", len(empty))
    rare = [f"{names[c]!r} ({count} rows, {count / total:.1%})" for c, count in enumerate(train)
            if 0 < count / total < RARE_SHARE]  # fmt: skip
    if rare:
        yield Finding("warning", "class balance", f"train: rare class(es) {_listed(rare)}", len(rare))
    for name in ("val", "test"):
        few = [f"{names[c]!r} ({count})" for c, count in enumerate(counts[name]) if count < FEW_EVALUATION_ROWS]
        if few:
            yield Finding("warning", "class balance",
                          f"{name}: few rows of {_listed(few)}: its scores will be noisy", len(few))  # fmt: skip
    shares = _listed([f"{names[c]} {count / total:.1%}" for c, count in enumerate(train)])
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
                          {name: examples(copies)})  # fmt: skip
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
                          len(leaked), {target: examples(leaked)})  # fmt: skip


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
                      len(conflicting), {name: examples(found) for name, found in rows.items()})  # fmt: skip


def _run_checks(
    splits: Splits, named: dict[str, DataSplit], counts: dict[str, np.ndarray], report: DataReport, bounds: _Bounds
) -> None:
    findings = report.findings
    keys = {name: row_keys(split.inputs) for name, split in named.items()}
    findings += _check_missing(named)
    findings += _check_classes(splits, counts, keys)
    findings += _check_exact(named, keys)
    if splits.task == "ranking":  # one history, several next items: that is the data, not a conflict
        findings.append(
            scope_notice("label conflicts", "not checked on ranking, where one input has several next items")
        )
    else:
        findings += _check_conflicts(named, keys)
    sampled, notices = embed_sample(splits, keys, bounds.seed)
    findings += notices
    if sampled.vectors["train"].shape[1] == 0:  # nothing varies: the constant-split error says it all
        return
    if bounds.spent("near duplicates", findings):
        return
    findings += check_near(sampled, bounds.near_ratio)
    skipped = label_errors_skipped(splits)
    if skipped is not None:
        findings.append(skipped)
    elif not bounds.spent("label errors", findings):
        findings += check_label_errors(splits, sampled, bounds.seed, report)


@dataclass(frozen=True)
class _Bounds:
    """The settings of one check, and the moment after which its slow checks are skipped."""

    seed: int
    near_ratio: float
    started: float
    seconds: float

    def spent(self, check: str, findings: list[Finding]) -> bool:
        """True, with a notice in ``findings``, when the time for the slow checks is up before ``check``."""
        elapsed = time.perf_counter() - self.started
        if elapsed <= self.seconds:
            return False
        why = f"skipped with the checks after it: the check had run {elapsed:.0f} s, over its {self.seconds:g} s bound"
        findings.append(scope_notice(check, why))
        return True


def check_splits(
    splits: Splits, *, seed: int = 0, near_ratio: float = NEAR_RATIO, seconds: float = CHECK_SECONDS
) -> DataReport:
    """Run every check on ``splits``; errors first in the report's findings.

    After ``seconds`` the slow checks still to come are skipped, and the report says so.
    """
    started = time.perf_counter()
    named = _named(splits)
    report = DataReport(splits.fingerprint, tuple(str(name) for name in splits.class_names),
                        {name: len(s) for name, s in named.items()}, {})  # fmt: skip
    report.findings = list(_check_labels(splits, named))
    if not report.findings:  # the rest assumes labels the engine could train on
        counts = {name: class_counts(split.labels, splits.num_classes) for name, split in named.items()}
        report.class_counts = {name: [int(count) for count in counts[name]] for name in EVALUATED}
        # One BLAS thread: these matrices are small, and on a shared machine threads only contend
        # (BreastMNIST: 0.2 s with one thread, over 5 s with the default pool on two busy cores).
        with threadpool_limits(limits=1):
            _run_checks(splits, named, counts, report, _Bounds(seed, near_ratio, started, seconds))
    report.findings += _dropped(splits)
    order = {"error": 0, "warning": 1, "info": 2}
    report.findings = sorted(report.findings, key=lambda finding: order[finding.severity])
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _dropped(splits: Splits) -> list[Finding]:
    """The notice of :func:`~autosft.evaluate.repeats.drop_repeats`, when the study asked for it."""
    dropped = splits.info.get(DROPPED_REPEATS_INFO)
    if dropped is None:
        return []
    counts = ", ".join(f"{count} {name}" for name, count in dropped.items())
    return [Finding("info", SCOPE, f"repeats dropped (data_check.drop_repeats): {counts} rows that repeat "
                    "a row of an earlier split", sum(dropped.values()))]  # fmt: skip


def refuse_errors(report: DataReport) -> None:
    """Raise :class:`DataError` naming every error of ``report``; a report without errors passes."""
    if report.errors:
        found = "; ".join(finding.message for finding in report.errors)
        way = "search anyway with --skip-data-check"
        if all(finding.check == "leakage" for finding in report.errors):
            way = "drop the repeated rows with --drop-repeats (data_check: {drop_repeats: true}), or " + way
        raise DataError(
            f"the data check found {len(report.errors)} error(s): {found}. See `autosft check-data STUDY.yaml` "
            f"for details, or {way}"
        )
