"""Exporting the selected configuration of a study: a retrained model, tested once, and its record.

``autosft export`` writes a folder holding the model in its native format (see
:mod:`autosft.export.model`), ``best_config.yaml`` (the study with every dimension fixed),
``test_metrics.json`` (test metrics with bootstrap confidence intervals, the calibration's ECE
before and after, and the retained performance on the study's reference dataset),
``test_predictions.npz`` (what the report plots) and ``run_card.json`` (versions, seeds, data
fingerprint, trials, hardware, wall times, calibration).

The exported model is calibrated by temperature scaling fitted on validation
(:mod:`autosft.evaluate.calibration`): its test metrics, saved predictions, ``model.json`` (which
:func:`load_exported` reads) and ``model.onnx`` (whose logits are divided by the temperature) all
describe the calibrated model; the uncalibrated test probabilities are saved beside them for the report.
"""

from __future__ import annotations

from autosft.export.exporter import ExportOutcome, export_study
from autosft.export.model import ExportedModel, load_exported, load_model

__all__ = ["ExportOutcome", "ExportedModel", "export_study", "load_exported", "load_model"]
