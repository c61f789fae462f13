"""The checks on row embeddings (near duplicates, likely label errors), on a bounded sample of rows.

These are the slow checks: nearest neighbours grow with the square of the rows, and the
label-error model with rows times classes. So they see at most :data:`MAX_EMBEDDED_ROWS` rows per
split (a seeded random sample; row indices in findings still point into the whole split), and the
label-error model is not fitted above :data:`MAX_LABEL_CLASSES` classes, nor on ranking, whose
labels are items rather than classes. Each such decision comes back as a ``scope`` notice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from autosft.components import Splits
from autosft.evaluate.datareport import EXAMPLES, DataReport, Finding, examples, scope_notice
from autosft.evaluate.label_issues import find_label_issues
from autosft.evaluate.repeats import EVALUATED, LEAKAGE_PAIRS, take_rows
from autosft.evaluate.rows import embed

__all__ = [
    "MAX_EMBEDDED_ROWS",
    "MAX_LABEL_CLASSES",
    "Sample",
    "check_label_errors",
    "check_near",
    "embed_sample",
    "label_errors_skipped",
]

#: Rows per split the embedding checks see; a larger split is subsampled (the same rows for the
#: same seed). Nearest neighbours of 10,000 rows take about 0.4 s on one thread.
MAX_EMBEDDED_ROWS = 10_000
#: Above this many classes the label-error model (one weight vector per class, five folds) is not
#: fitted: on a ranking study's 2,412 item classes over 51,000 rows it ran more than 7 minutes.
MAX_LABEL_CLASSES = 100


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


@dataclass(frozen=True)
class Sample:
    """What the embedding checks see of each evaluated split: which rows (indices into the split),
    their exact keys and their embeddings."""

    rows: dict[str, np.ndarray]
    keys: dict[str, list[bytes]]
    vectors: dict[str, np.ndarray]


def embed_sample(splits: Splits, keys: dict[str, list[bytes]], seed: int) -> tuple[Sample, list[Finding]]:
    """At most :data:`MAX_EMBEDDED_ROWS` rows per split, drawn with ``seed``, embedded together."""
    rng = np.random.default_rng(seed)
    rows, parts, subsampled = {}, [], []
    for name in EVALUATED:
        split, total = getattr(splits, name), len(keys[name])
        if total > MAX_EMBEDDED_ROWS:
            rows[name] = np.sort(rng.choice(total, MAX_EMBEDDED_ROWS, replace=False))
            split = take_rows(split, rows[name])
            subsampled.append(f"{name} {MAX_EMBEDDED_ROWS:,} of {total:,} rows")
        else:
            rows[name] = np.arange(total)
        parts.append(split.inputs)
    sampled = Sample(rows, {name: [keys[name][row] for row in rows[name]] for name in EVALUATED},
                     dict(zip(EVALUATED, embed(parts, seed=seed), strict=True)))  # fmt: skip
    notices = []
    if subsampled:
        why = f"on a random sample ({', '.join(subsampled)}): a split over {MAX_EMBEDDED_ROWS:,} rows is subsampled"
        notices.append(scope_notice("near duplicates and label errors", why + " to bound the time"))
    return sampled, notices


def check_near(sample: Sample, ratio: float) -> Iterator[Finding]:
    """Rows much closer to another row than rows usually are (resized, re-encoded, jittered copies)."""
    vectors, keys = sample.vectors, sample.keys
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
                      len(near), {target: examples(sample.rows[target][near])})  # fmt: skip


def label_errors_skipped(splits: Splits) -> Finding | None:
    """Why the label-error check does not apply or would not finish in bounded time, if it would not."""
    if splits.task == "ranking":
        return scope_notice("label errors", "not checked on ranking, whose labels are items to rank, not classes")
    if splits.num_classes > MAX_LABEL_CLASSES:
        return scope_notice("label errors", f"not checked: {splits.num_classes:,} classes, over the "
                        f"{MAX_LABEL_CLASSES} its model is fitted on in bounded time")  # fmt: skip
    return None


def check_label_errors(splits: Splits, sample: Sample, seed: int, report: DataReport) -> Iterator[Finding]:
    features = np.concatenate([sample.vectors[name] for name in EVALUATED])
    labels = np.concatenate([np.asarray(getattr(splits, name).labels)[sample.rows[name]] for name in EVALUATED])
    suspects = find_label_issues(features, labels.astype(np.int64), seed=seed)
    if suspects is None:
        yield Finding("info", "label errors", "not checked: a class has fewer than two rows")
        return
    offsets = np.cumsum([0] + [len(sample.rows[name]) for name in EVALUATED])
    names = [str(name) for name in splits.class_names]
    for position, row in enumerate(suspects.rows[:EXAMPLES]):
        split = int(np.searchsorted(offsets, row, side="right") - 1)
        column = None if suspects.label_column is None else int(suspects.label_column[position])
        given, suggested = int(suspects.given[position]), int(suspects.suggested[position])
        report.label_suspects.append({
            "split": EVALUATED[split],
            "row": int(sample.rows[EVALUATED[split]][row - offsets[split]]),
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
