"""References: the simple, well-known models every study is read against.

A plugin author adds one by subclassing :class:`Reference` (a name, the input kinds and tasks it
fits, ``fit(data) -> predict``) and registering an instance from the
``autosft_register_references`` hook; the built-ins live in :mod:`autosft.default_plugins.references`.
:mod:`autosft.evaluate.references` fits them on a study's splits (validation before the search, test
once, refitted like the chosen trial) and :mod:`autosft.evaluate.verdict` says whether the
chosen model beats them; :mod:`autosft.views` shows it. Only the contract is imported
here, so listing plugins never imports scikit-learn or torch.
"""

from __future__ import annotations

from autosft.references.base import DEFAULT_MAX_TRAIN_ROWS, Predict, Reference, ReferenceData

__all__ = ["DEFAULT_MAX_TRAIN_ROWS", "Predict", "Reference", "ReferenceData"]
