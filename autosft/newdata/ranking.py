"""`autosft rank-unlabeled` as a function: the rows of an unlabelled pool to label next, by the exported model.

The pool is read through the study's own loader and preprocessing (:func:`autosft.newdata.rows.load_new_rows`),
scored by the exported model (its calibrated probabilities, and for ``diverse`` its embeddings of
the pool and of the study's train rows, which count as already labelled), and ranked by
:func:`autosft.evaluate.acquisition.rank_pool`. Rows are named by their position in the pool file
(the loader reads every row, in order) and, with ``id_column``, by that column's value too.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pluggy

from autosft.config import StudyConfig
from autosft.errors import ConfigError, DataError
from autosft.evaluate.acquisition import Ranking, check_request, rank_pool
from autosft.newdata.rows import as_split, embed, load_new_rows, load_study, open_export

__all__ = ["RankedPool", "rank_unlabeled"]

#: Suffixes ``id_column`` can be read from, and pandas' reader of each.
_ID_READERS = {".csv": "read_csv", ".parquet": "read_parquet", ".pq": "read_parquet", ".jsonl": "read_json"}


@dataclass(frozen=True)
class RankedPool:
    """The rows to label next, best first, and what the model predicted for each."""

    strategy: str
    pool_rows: int
    ranking: Ranking
    #: Per picked row: its id (the ``id_column`` value, else its position in the pool file).
    ids: list[Any]
    #: The predicted class (multilabel: the predicted labels, ``;``-separated).
    predicted: list[str]
    #: The predicted class's probability (multilabel: that of the least sure label's prediction).
    confidence: np.ndarray

    def write_csv(self, path: Path) -> None:
        """``rank,row,id,score,predicted,confidence``: one line per row to label, the first to label first."""
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["rank", "row", "id", "score", "predicted", "confidence"])
            columns = zip(
                self.ranking.rows, self.ids, self.ranking.scores, self.predicted, self.confidence, strict=True
            )
            for rank, (row, row_id, score, predicted, confidence) in enumerate(columns, start=1):
                writer.writerow([rank, int(row), row_id, f"{score:.6f}", predicted, f"{confidence:.6f}"])


def rank_unlabeled(
    config: StudyConfig,
    pool: str | Path,
    *,
    top: int,
    strategy: str,
    model: str | Path,
    manager: pluggy.PluginManager,
    id_column: str | None = None,
    device: str | None = None,
) -> RankedPool:
    """The ``top`` rows of ``pool`` to label next by ``strategy``, scored by the export in ``model``.

    The request is checked before anything is loaded; the export must be of the study's dataset and model.
    """
    check_request(strategy, top)
    exported = open_export(model, manager, config=config)
    study = load_study(config, manager)
    rows = load_new_rows(study, pool)
    ids = _pool_ids(Path(pool), id_column, len(rows))
    probabilities = exported.predict(as_split(rows), device=device)
    embeddings = labelled = None
    if strategy == "diverse":
        embeddings = embed(exported.module, rows, device=device)
        labelled = embed(exported.module, study.splits.train, device=device)
    ranking = rank_pool(strategy, probabilities, config.task, top, embeddings=embeddings,
                        labelled_embeddings=labelled, seed=config.seed)  # fmt: skip
    predicted, confidence = _predictions(probabilities[ranking.rows], study.splits.class_names, config.task)
    return RankedPool(strategy, len(rows), ranking, [ids[row] for row in ranking.rows], predicted, confidence)


def _predictions(probabilities: np.ndarray, names: tuple[str, ...], task: str) -> tuple[list[str], np.ndarray]:
    """What the model predicts for each row, and how sure it is of that."""
    if task == "multilabel":
        chosen = probabilities >= 0.5
        labels = [";".join(name for name, on in zip(names, row, strict=True) if on) for row in chosen]
        return labels, np.maximum(probabilities, 1.0 - probabilities).min(axis=1)
    return [names[index] for index in probabilities.argmax(axis=1)], probabilities.max(axis=1)


def _pool_ids(path: Path, id_column: str | None, rows: int) -> list[Any]:
    """Each pool row's id: its ``id_column`` value, else its position in the file."""
    if id_column is None:
        return list(range(rows))
    reader = _ID_READERS.get(path.suffix.lower())
    if reader is None:
        raise ConfigError(f"--id-column needs a {', '.join(_ID_READERS)} file, but the pool is {str(path)!r}")
    import pandas as pd

    options = {"lines": True} if reader == "read_json" else {}
    frame = getattr(pd, reader)(path, **options)
    if id_column not in frame.columns:
        raise DataError(f"--id-column {id_column!r} is not a column of {str(path)!r}; columns: "
                        f"{', '.join(map(str, frame.columns[:20]))}")  # fmt: skip
    values = frame[id_column].tolist()
    if len(values) != rows:
        raise DataError(f"{str(path)!r} has {len(values)} rows but its loader read {rows}: ids cannot be matched")
    return [value.item() if isinstance(value, np.generic) else value for value in values]
