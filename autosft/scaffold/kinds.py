"""The kinds of plugin the scaffold writes: what differs between them, as data.

A plugin is rendered from template folders, shared ones first: ``common`` (everything every kind
has), then ``bag`` for inputs that are id sequences (text, ranking), then the kind's own folder
(how a file is read, the network's stem). Only what differs between kinds is in a kind's folder.
"""

from __future__ import annotations

from dataclasses import dataclass

from autosft.scaffold.examples import ExampleWriter, write_image, write_ranking, write_tabular, write_text

__all__ = ["KINDS", "Kind"]


@dataclass(frozen=True)
class Kind:
    """One kind of plugin: its template folders, task, objective and the words its files use."""

    name: str
    layers: tuple[str, ...]
    task: str
    input_kind: str
    objective: str
    suffix: str
    summary: str
    format_description: str
    network_description: str
    answer: str
    width: int
    write_example: ExampleWriter


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("tabular", ("common", "tabular"), "binary", "tabular", "roc_auc", ".csv",
             "a tabular dataset loader, a pre-trained MLP and a metric",
             "a CSV file: a header, numeric feature columns and a `label` column",
             "an MLP: a linear stem, two residual blocks, a linear head", "class", 32, write_tabular),
        Kind("text", ("common", "bag", "text"), "binary", "text", "roc_auc", ".csv",
             "a text dataset loader, a pre-trained bag-of-words network and a metric",
             "a CSV file with `text` and `label` columns",
             "a network over hashed words: mean embedding, two residual blocks, a linear head", "class",
             32, write_text),
        Kind("image", ("common", "image"), "multiclass", "image", "f1_macro", ".npz",
             "an image dataset loader, a pre-trained small CNN and a metric",
             "an .npz file of `images` (rows, channels, height, width) and `labels` (a string each)",
             "a small CNN: two convolutions, two residual blocks, a linear head", "class", 16, write_image),
        Kind("ranking", ("common", "bag", "ranking"), "ranking", "item_sequence", "ndcg@10", ".csv",
             "a next-item dataset loader, a pre-trained recommender and a metric",
             "a CSV file of `history` (item names, oldest first) and `next_item`",
             "a recommender: mean item embedding of the history, two residual blocks, a score per item",
             "item", 32, write_ranking),
    )
}  # fmt: skip
