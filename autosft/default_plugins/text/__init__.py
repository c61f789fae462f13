"""Built-in text components: the ``text_table`` loader and the ``hf_text_classifier`` model.

Domain-neutral (a sentiment, support-ticket or clause classifier alike), so they ship with autosft
rather than with a domain plugin; domain plugins add metrics and augmentations around them (the
legal plugin: per-class precision/recall, token deletion and swap).

- ``text_table``: a CSV, JSONL or Parquet table with one or more text columns (joined), a label
  column (binary, multiclass, or multilabel as lists, ``;``-separated strings or one 0/1 column per
  class), and either a split column or a stratified split; with a group column (a document) no
  group spans two splits. Inputs are texts of kind ``text``. Reading needs pandas (and pyarrow for
  Parquet): ``pip install 'autosft[text]'``; without pandas the loader is not registered.
- ``hf_text_classifier``: any Hugging Face encoder via ``AutoModelForSequenceClassification`` (hub
  name, local folder, or ``minilm`` with the ``[minilm]`` extra), tokenized once per study with
  head, tail or head+tail truncation; layer groups, LoRA target sets and a staged forward so frozen
  layers' activations are cached across epochs and trials.
- a portfolio for ``hf_text_classifier`` (``portfolios/hf_text_classifier.json``), learned by
  ``benchmarks/learn_portfolio.py --model hf_text_classifier --ship`` on the shipped text studies.

The hooks import their component modules inside their bodies, so ``autosft --help`` never imports
torch, pandas or transformers.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from autosft.components import DatasetLoader, ModelBuilder
from autosft.hookspecs import hookimpl
from autosft.portfolios import Portfolio, load_portfolio

__all__ = ["autosft_register_datasets", "autosft_register_models", "autosft_register_portfolios"]


@hookimpl(trylast=True)
def autosft_register_datasets(register: Callable[[DatasetLoader], None]) -> None:
    if importlib.util.find_spec("pandas") is None:  # the [text] extra is not installed
        return
    from autosft.default_plugins.text.loader import TextTable

    register(TextTable())


@hookimpl(trylast=True)
def autosft_register_models(register: Callable[[ModelBuilder], None]) -> None:
    from autosft.default_plugins.text.model import HFTextClassifier

    register(HFTextClassifier())


@hookimpl(trylast=True)
def autosft_register_portfolios(register: Callable[[Portfolio], None]) -> None:
    register(load_portfolio("autosft.default_plugins.text", "portfolios/hf_text_classifier.json"))
