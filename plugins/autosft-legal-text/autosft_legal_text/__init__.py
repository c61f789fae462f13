"""autosft plugin for legal text: clauses, sentences and cases classified with a fine-tuned encoder.

Installing ``autosft-legal-text`` registers, through the ``autosft`` entry-point group:

- the dataset ``text_table``: a CSV, JSONL or Parquet table with one or more text columns (joined),
  a label column (binary, multiclass, or multilabel as lists, ``;``-separated strings or one 0/1
  column per class), and either a split column or a stratified split; with a group column (a
  contract, a document) no group spans two splits. Inputs are texts of kind ``text``;
- the model ``hf_text_classifier``: any Hugging Face encoder via ``AutoModelForSequenceClassification``
  (hub name, local folder, or ``minilm`` with the ``[minilm]`` extra), tokenized once per study with
  head, tail or head+tail truncation; layer groups (embeddings, each layer, pooler + head), LoRA
  target sets (``query_value``, ``query_key_value``, ``all_linear``, ``dense``) and a staged forward
  so frozen layers' activations are cached across epochs and trials;
- augmentations ``token_deletion`` and ``token_swap`` (token ids on the device, nothing downloaded);
- metrics ``precision``, ``recall``, ``precision_macro``, ``recall_macro``, ``f1_weighted``,
  ``f1_samples``, ``subset_accuracy``, ``worst_class_f1`` and per-class ``precision_class_<i>``,
  ``recall_class_<i>``, ``f1_class_<i>``.

This module holds hook implementations only; each imports its component module inside the hook
body, so listing plugins or ``autosft --help`` never imports torch, pandas or transformers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from autosft import hookimpl

if TYPE_CHECKING:
    from autosft import Augmentation, DatasetLoader, Metric, ModelBuilder

__all__ = [
    "autosft_register_augmentations",
    "autosft_register_datasets",
    "autosft_register_metrics",
    "autosft_register_models",
]


@hookimpl
def autosft_register_datasets(register: Callable[[DatasetLoader], None]) -> None:
    from autosft_legal_text.loader import TextTable

    register(TextTable())


@hookimpl
def autosft_register_models(register: Callable[[ModelBuilder], None]) -> None:
    from autosft_legal_text.model import HFTextClassifier

    register(HFTextClassifier())


@hookimpl
def autosft_register_augmentations(register: Callable[[Augmentation], None]) -> None:
    from autosft_legal_text.augment import AUGMENTATIONS

    for augmentation in AUGMENTATIONS:
        register(augmentation())


@hookimpl
def autosft_register_metrics(register: Callable[[Metric], None]) -> None:
    from autosft_legal_text.metrics import METRICS

    for metric in METRICS:
        register(metric)
