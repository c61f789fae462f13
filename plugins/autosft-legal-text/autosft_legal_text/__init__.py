"""autosft plugin for legal text: clauses, sentences and cases classified with a fine-tuned encoder.

The ``text_table`` loader and the ``hf_text_classifier`` model it was built around are domain-neutral
and ship with autosft (:mod:`autosft.default_plugins.text`). Installing ``autosft-legal-text`` adds,
through the ``autosft`` entry-point group, what legal texts call for on top of them:

- augmentations ``token_deletion`` and ``token_swap`` (token ids on the device, nothing downloaded);
- metrics ``precision``, ``recall``, ``precision_macro``, ``recall_macro``, ``f1_weighted``,
  ``f1_samples``, ``subset_accuracy``, ``worst_class_f1`` and per-class ``precision_class_<i>``,
  ``recall_class_<i>``, ``f1_class_<i>``.

This module holds hook implementations only; each imports its component module inside the hook
body, so listing plugins or ``autosft --help`` never imports torch or sklearn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from autosft import hookimpl

if TYPE_CHECKING:
    from autosft import Augmentation, Metric

__all__ = [
    "autosft_register_augmentations",
    "autosft_register_metrics",
]


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
