"""The keys autosft writes into Optuna's ``user_attrs``, in one place.

Optuna owns trial state; everything autosft records about a study or a trial is a user attribute
under one of these keys, so a reader (``status``, ``export``, the report, a notebook with
``optuna.load_study``) finds them here rather than in the module that happens to write them.
"""

from __future__ import annotations

__all__ = [
    "AS_IS_ATTR",
    "CONFIG_ATTR",
    "DATA_CHANGES_ATTR",
    "DATA_CHECK_ATTR",
    "DATA_FINGERPRINT_ATTR",
    "DEFAULT_TRIAL_ATTR",
    "EXTRA_METRICS_ATTR",
    "FAIL_REASON_ATTR",
    "FINAL_TEST_ATTR",
    "FOLDS_ATTR",
    "FOLD_SCORES_ATTR",
    "LOST_ATTR",
    "PORTFOLIO_ATTR",
    "QUICK_LOOK_ATTR",
    "REFERENCES_ATTR",
    "REFERENCE_BASELINE_ATTR",
    "RERUN_ATTR",
    "SELECTION_ATTR",
    "TARGET_ATTR",
    "WARM_START_ATTR",
    "WORST_SLICE_PREFIX",
]

# Study attributes
#: The study file of the latest run (JSON), for status/best/export.
CONFIG_ATTR = "autosft_config"
#: The data check of the latest `autosft search` (the JSON form of :class:`autosft.evaluate.datacheck.DataReport`).
DATA_CHECK_ATTR = "autosft_data_check"
#: The fingerprint of the data the study's trials ran on.
DATA_FINGERPRINT_ATTR = "autosft_data_fingerprint"
#: The data changes a resumed run was allowed to go on with (--allow-data-change).
DATA_CHANGES_ATTR = "autosft_data_changes"
#: The cross-validation folds the study's trials are scored on, or ``None`` for the validation split
#: (see :func:`autosft.evaluate.folds.folds_record`).
FOLDS_ATTR = "autosft_folds"
#: The held-out test evaluation of the selected trial; with a study's ``slices``, its ``slices`` entry holds
#: the selected model's per-slice scores on validation and test (:func:`autosft.evaluate.slices.slice_report`).
FINAL_TEST_ATTR = "autosft_final_test"
#: The references fitted on train and scored on validation before the first trial (see
#: :func:`autosft.evaluate.references.validate_references`).
REFERENCES_ATTR = "autosft_references"
#: The pre-trained model's scores on the reference dataset's capped validation rows, once per study: what
#: each trial's retained performance is compared with (see :mod:`autosft.evaluate.retained`).
REFERENCE_BASELINE_ATTR = "autosft_reference_baseline"
#: The latest seed-robust selection (see :func:`autosft.evaluate.selection.summarize_selection`).
SELECTION_ATTR = "autosft_selection"
#: How many finished trials the study is to hold when its workers stop.
TARGET_ATTR = "autosft_trial_target"

# Trial attributes
#: Per-trial scores beside the validation metrics, name -> float: ``retained_<metric>`` and
#: ``reference_drop`` (the forgetting guard), ``worst_slice_<metric>`` (slices); constraints may name them.
EXTRA_METRICS_ATTR = "autosft_extra_metrics"
#: Why a trial failed, in a line (the objective, the worker loop and the stale-trial handling write it).
FAIL_REASON_ATTR = "fail_reason"
#: A cross-validated trial's scores per fold, in fold order, rewritten as each fold finishes
#: (see :func:`autosft.evaluate.folds.fold_records`); the trial's value is their mean.
FOLD_SCORES_ATTR = "autosft_fold_scores"
#: On a trial whose worker was lost: ``"stale"`` (killed, cut off) or ``"interrupted"``.
LOST_ATTR = "autosft_lost"
#: Marks the enqueued default configuration (trial 0 of a new study, 1 after a quick look).
DEFAULT_TRIAL_ATTR = "autosft_default_configuration"
#: Marks the enqueued quick look (:func:`autosft.search.plan.quick_look_params`).
QUICK_LOOK_ATTR = "autosft_quick_look"
#: Marks the pre-trained model as is: a starting trial of zero epochs, where the model's head already
#: fits the task (:meth:`autosft.components.ModelBuilder.head_is_pretrained`).
AS_IS_ATTR = "autosft_as_is"
#: Validation scores of a trial beyond its metrics, ``{name: float}``: with ``slices``, the worst validation
#: slice per metric under ``WORST_SLICE_PREFIX + metric`` (e.g. ``worst_slice_recall``); constraints read them.
EXTRA_METRICS_ATTR = "autosft_extra_metrics"
#: Prefix of a metric's worst-slice score, in a trial's metrics and :data:`EXTRA_METRICS_ATTR`.
WORST_SLICE_PREFIX = "worst_slice_"
#: A seed re-run: ``{"of": original trial number, "seed": seed}``.
RERUN_ATTR = "autosft_seed_rerun"
#: A configuration taken from an earlier study by a warm start: ``{"study": its name, "trial": its number}``
#: (see :mod:`autosft.search.warmstart`).
WARM_START_ATTR = "autosft_warm_start"
#: A configuration taken from the model builder's portfolio: ``{"model": builder name, "entry": its index}``
#: (see :mod:`autosft.search.portfolio`).
PORTFOLIO_ATTR = "autosft_portfolio"
