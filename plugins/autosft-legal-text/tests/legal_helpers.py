"""Builders of the plugin's test inputs: a tiny BERT checkpoint with its tokenizer, and clause tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autosft import testing

#: The tiny model's whole vocabulary after the special tokens; generated texts use only these words.
WORDS = [
    "we", "may", "terminate", "your", "account", "at", "any", "time", "without", "notice", "you", "agree", "to",
    "these", "terms", "and", "our", "liability", "is", "limited", "the", "contract", "law", "of", "ireland", "shall",
    "apply", "privacy", "data", "content", "remove", "change",
]  # fmt: skip
#: Words that make a generated clause unfair, and the category each stands for (multilabel).
CATEGORIES = {"terminate": "termination", "liability": "liability", "law": "choice_of_law"}


def save_tiny_bert(folder: Path, *, layers: int = 3, positions: int = 64) -> Path:
    """A randomly initialized BERT classifier and its WordPiece tokenizer over :data:`WORDS`."""
    return testing.save_tiny_bert(folder, WORDS, layers=layers, positions=positions)


def clauses(*, documents: int = 20, per_document: int = 20, seed: int = 0) -> pd.DataFrame:
    """Sentences grouped by document; a sentence naming a category word is unfair and carries that label."""
    rng = np.random.default_rng(seed)
    plain = [word for word in WORDS if word not in CATEGORIES]
    rows: list[dict[str, Any]] = []
    for document in range(documents):
        for index in range(per_document):
            words = list(rng.choice(plain, size=int(rng.integers(3, 20))))
            tagged = [word for word in CATEGORIES if rng.random() < 0.15]
            for word in tagged:
                words.insert(int(rng.integers(0, len(words))), word)
            rows.append({
                "doc": f"doc{document}",
                "title": f"section {index}",
                "text": " ".join(words),
                "unfair": int(bool(tagged)),
                "labels": ";".join(CATEGORIES[word] for word in tagged),
            })  # fmt: skip
    return pd.DataFrame(rows)


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """``frame`` as CSV, JSONL or Parquet by ``path``'s suffix."""
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path, index=False)
    return path
