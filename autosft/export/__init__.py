"""Exporting the selected configuration of a study: a retrained model, tested once, and its record.

``autosft export`` writes a folder holding the model in its native format (see
:mod:`autosft.export.model`), ``best_config.yaml`` (the study with every dimension fixed),
``test_metrics.json`` (test metrics with bootstrap confidence intervals, and the retained
performance on the study's reference dataset), ``test_predictions.npz`` (what the report plots)
and ``run_card.json`` (versions, seeds, data fingerprint, trials, hardware, wall times).
"""

from __future__ import annotations

from autosft.export.exporter import ExportOutcome, export_study
from autosft.export.model import load_model

__all__ = ["ExportOutcome", "export_study", "load_model"]
