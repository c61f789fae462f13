"""Turning a validated study file into everything trials need, once per process.

Component names and options are checked, the data is loaded and split, and the model is built
once, before any trial: a bad name or option fails in seconds with one line instead of in every
trial, and the model's structure (layer groups, LoRA target sets) shapes the search space.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pluggy
from pydantic import BaseModel, ValidationError

from autosft.attrs import WORST_SLICE_PREFIX
from autosft.components import BuiltModel, DatasetLoader, Metric, Splits
from autosft.config import Direction, StudyConfig, format_validation_error
from autosft.engine.prepared import PreparedStudy
from autosft.errors import ConfigError, PluginError
from autosft.evaluate.constraints import REFERENCE_DROP, RETAINED_PREFIX
from autosft.evaluate.folds import cross_validation_folds
from autosft.registry import Registry, collect_registry, unknown_name
from autosft.search.plan import build_search_space, quick_look_params
from autosft.search.probe import check_structure

__all__ = ["PreparedStudy", "check_components", "constraint_metric_names", "load_reference", "load_splits",
           "prepare_study", "validate_options"]  # fmt: skip


def validate_options(model: type[BaseModel], options: dict[str, Any], where: str) -> BaseModel:
    """``options`` as ``model``; an unknown key is answered with the closest and the valid options."""
    try:
        return model.model_validate(options)
    except ValidationError as error:
        extra = [str(item["loc"][0]) for item in error.errors() if item["type"] == "extra_forbidden" and item["loc"]]
        if extra:
            valid = list(model.model_fields)
            raise ConfigError(f"{where}: " + unknown_name("option", extra[0], valid, label="valid options")) from None
        raise ConfigError(format_validation_error(error, where)) from None


def check_components(config: StudyConfig, registry: Registry) -> tuple[BaseModel, BaseModel, list[Direction]]:
    """Check every name and option the study uses; return dataset and model options and directions.

    This is all ``autosft validate`` needs: it touches no data and builds no model.
    """
    loader = registry.datasets.get(config.dataset.name)
    builder = registry.models.get(config.model.name)
    dataset_options = validate_options(loader.Options, _dataset_options(config, loader),
                                       f"dataset {loader.name!r} options")  # fmt: skip
    model_options = validate_options(builder.Options, config.model.options, f"model {builder.name!r} options")
    if config.reference is not None:
        reference = registry.datasets.get(config.reference.name)
        validate_options(reference.Options, config.reference.options, f"reference dataset {reference.name!r} options")
    directions: list[Direction] = []
    fitting = [metric.name for metric in registry.metrics.values() if config.task in metric.task_types]
    for objective in config.objectives:
        if objective.metric not in registry.metrics.names():
            raise ConfigError(
                unknown_name("metric", objective.metric, fitting, label=f"metrics of {config.task} tasks")
            )
        metric = registry.metrics.get(objective.metric)
        if config.task not in metric.task_types:
            raise ConfigError(
                f"metric {metric.name!r} does not score {config.task} tasks; metrics that do: {', '.join(fitting)}"
            )
        directions.append(objective.direction or metric.direction)
    for name in [] if config.slices is None else config.slices.metrics:
        if name not in fitting:
            raise ConfigError(unknown_name("slices metric", name, fitting, label=f"metrics of {config.task} tasks"))
    _check_constraints(config, registry)
    _check_folds_combination(config)
    return dataset_options, model_options, directions


def _check_folds_combination(config: StudyConfig) -> None:
    """Cross-validated trials train one model per fold, on rows that are not the validation split: there
    is no one model to score on the reference rows per trial, and no validation slice values per fold.
    Refused in one line rather than left to give every trial a missing score (and so infeasible)."""
    if config.validation.folds is None:
        return
    if config.slices is not None:
        raise ConfigError("validation.folds cannot be combined with slices yet: remove one of them")
    extra = [
        c.metric for c in config.all_constraints if c.metric.startswith(RETAINED_PREFIX) or c.metric == REFERENCE_DROP
    ]
    if extra:
        raise ConfigError(
            f"validation.folds cannot be combined with a constraint on {extra[0]!r} (the forgetting guard scores one "
            "model per trial, and a cross-validated trial has one per fold): remove the folds or the constraint"
        )


def _dataset_options(config: StudyConfig, loader: DatasetLoader) -> dict[str, Any]:
    """The dataset's options, with the study's slice columns as ``slice_columns`` (see :class:`SliceOptions`)."""
    if config.slices is None:
        return config.dataset.options
    if "slice_columns" not in loader.Options.model_fields:
        raise ConfigError(
            f"dataset {loader.name!r} cannot keep slice columns beside its inputs (its options do not take "
            "slice_columns, see autosft.SliceOptions): remove `slices` or use a dataset that does, e.g. tabular"
        )
    return {**config.dataset.options, "slice_columns": list(config.slices.columns)}


def constraint_metric_names(config: StudyConfig, registry: Registry) -> list[str]:
    """The names a study's constraints may bound: the registered metrics of its task (scored on
    validation); with a ``reference``, ``retained_<metric>`` and ``reference_drop`` (the forgetting
    guard, :mod:`autosft.evaluate.retained`); with ``slices``, ``worst_slice_<metric>`` for each metric
    scored per slice (the objectives' and ``slices.metrics``, :func:`autosft.evaluate.slices.sliced_metrics`)."""
    fitting = [metric.name for metric in registry.metrics.values() if config.task in metric.task_types]
    names = list(fitting)
    if config.reference is not None:
        names += [f"{RETAINED_PREFIX}{name}" for name in fitting] + [REFERENCE_DROP]
    if config.slices is not None:
        sliced = {objective.metric for objective in config.objectives} | set(config.slices.metrics)
        names += [f"{WORST_SLICE_PREFIX}{name}" for name in fitting if name in sliced]
    return names


def _check_constraints(config: StudyConfig, registry: Registry) -> None:
    """Every constraint names a metric this study scores; one that does not is a one-line error."""
    valid = constraint_metric_names(config, registry)
    for constraint in config.constraints:
        if constraint.metric not in valid:
            needs = [] if config.reference is not None else ["retained_<metric> and reference_drop need `reference:`"]
            needs += [] if config.slices is not None else ["worst_slice_<metric> needs `slices:`"]
            guard = f" ({'; '.join(needs)})" if needs else ""
            message = unknown_name("metric", constraint.metric, valid, label=f"metrics a constraint may bound{guard}")
            raise ConfigError(f"constraints: {message}")


def load_splits(config: StudyConfig, registry: Registry) -> Splits:
    """The study's data as its model sees it: split by the dataset loader, then encoded by the
    model builder's input encoder (a tokenizer), once and cached, then (with ``data_check.drop_repeats``)
    without the validation and test rows that repeat earlier splits. `autosft check-data` checks this,
    and every trial and the final test use it."""
    dataset_options, model_options, _ = check_components(config, registry)
    loader = registry.datasets.get(config.dataset.name)
    splits = loader.load(dataset_options, task=config.task, seed=config.seed)  # type: ignore[arg-type]
    if not isinstance(splits, Splits):
        raise PluginError(f"dataset {loader.name!r} returned {type(splits).__name__}, not Splits")
    if config.slices is not None:
        from autosft.evaluate.slices import require_slices

        require_slices(splits, config.slices.columns, loader.name)
    encoder = registry.models.get(config.model.name).input_encoder(model_options, splits)
    if encoder is not None:
        from autosft.engine.cache import encode_splits  # numpy only, but kept off the CLI's import path

        splits = encode_splits(splits, encoder)
    if config.data_check.drop_repeats:  # on the rows as the model and the leakage check see them
        from autosft.evaluate.repeats import drop_repeats

        splits = drop_repeats(splits)
    return splits


def prepare_study(
    config: StudyConfig, manager: pluggy.PluginManager, registry: Registry | None = None
) -> PreparedStudy:
    """Check the study against the installed plugins, load its data and declare its search space.

    ``registry`` is ``collect_registry(manager)`` when the caller already has it.
    """
    registry = registry or collect_registry(manager)
    _, model_options, directions = check_components(config, registry)
    builder = registry.models.get(config.model.name)
    splits = load_splits(config, registry)
    folds = () if config.validation.folds is None else cross_validation_folds(splits, config.validation.folds,
                                                                              seed=config.seed)  # fmt: skip
    probe = builder.build(model_options, splits, seed=config.seed)
    if not isinstance(probe, BuiltModel):
        raise PluginError(
            f"model {builder.name!r} of plugin {registry.models.plugin_of(builder.name)!r}: build() returned "
            f"{type(probe).__name__}, not a BuiltModel; return BuiltModel(module, layer_groups, ...)"
        )
    if not probe.layer_groups:
        raise PluginError(f"model {builder.name!r} declares no layer groups")
    check_structure(probe, builder.name, registry.models.plugin_of(builder.name))
    space = build_search_space(config, builder=builder, built=probe, splits=splits, registry=registry, manager=manager)
    metrics = [
        metric
        for metric in registry.metrics.values()
        if config.task in metric.task_types and metric.min_classes <= splits.num_classes
    ]
    check_metric_values(metrics, splits, registry)
    _check_constraints_scored(config, metrics, splits)
    quick_look = quick_look_params(space, probe)
    extra_scores = None
    if config.slices is not None:
        from autosft.evaluate.slices import sliced_metrics, worst_slice_scorer

        extra_scores = worst_slice_scorer(sliced_metrics(metrics, config), splits, config.slices)
    reference = load_reference(config, registry, model_options, splits)
    return PreparedStudy(
        config, manager, registry, splits, builder, model_options, space, metrics, directions,
        quick_look=quick_look, extra_scores=extra_scores, reference=reference, folds=folds, pretrained=probe.pretrained,
    )  # fmt: skip


def load_reference(config: StudyConfig, registry: Registry, model_options: BaseModel, splits: Splits) -> Splits | None:
    """The study's reference dataset as its model sees it (encoded like the study's data), or ``None``.

    Its classes must be the study's: the model's predictions on it are scored as they are.
    """
    if config.reference is None:
        return None
    loader = registry.datasets.get(config.reference.name)
    options = validate_options(loader.Options, config.reference.options, f"reference dataset {loader.name!r} options")
    reference = loader.load(options, task=config.task, seed=config.seed)  # type: ignore[arg-type]
    if not isinstance(reference, Splits):
        raise PluginError(f"dataset {loader.name!r} returned {type(reference).__name__}, not Splits")
    if reference.class_names != splits.class_names:
        raise ConfigError(
            f"reference dataset {loader.name!r} has classes {list(reference.class_names)}, but the study's data has "
            f"{list(splits.class_names)}: the model cannot be scored on it"
        )
    encoder = registry.models.get(config.model.name).input_encoder(model_options, reference)
    if encoder is not None:
        from autosft.engine.cache import encode_splits

        reference = encode_splits(reference, encoder)
    return reference


def _check_constraints_scored(config: StudyConfig, metrics: list[Metric], splits: Splits) -> None:
    """A constraint on a metric the task's data cannot score (too few classes) would make every trial
    infeasible: refuse it now."""
    scored = {metric.name for metric in metrics}
    for constraint in config.constraints:
        name = constraint.metric.removeprefix(RETAINED_PREFIX).removeprefix(WORST_SLICE_PREFIX)
        if constraint.metric != REFERENCE_DROP and name not in scored:
            raise ConfigError(
                f"constraints: metric {name!r} needs more classes than the data's {splits.num_classes}; metrics "
                f"scored here: {', '.join(sorted(scored))}"
            )


def check_metric_values(metrics: list[Metric], splits: Splits, registry: Registry) -> None:
    """Score a few validation rows at uniform probabilities with each metric, so one that returns
    an array rather than a number fails now, named, and not as every trial's ``TypeError``."""
    labels = splits.val.labels[:32]
    probabilities = np.full((len(labels), splits.num_classes), 1 / max(splits.num_classes, 1))
    for metric in metrics:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = metric.compute(labels, probabilities)
        except Exception:  # undefined on these rows is the trials' to report, not a type error
            continue
        if not _is_number(value):
            shape = f" of shape {np.shape(value)}" if np.ndim(value) else ""
            raise PluginError(
                f"metric {metric.name!r} of plugin {registry.metrics.plugin_of(metric.name)!r} returned "
                f"{type(value).__name__}{shape}, not a float; compute(labels, probabilities) must return one number"
            )


def _is_number(value: Any) -> bool:
    """One number as scoring's ``float()`` takes it: a Python or NumPy scalar or a 0-d array, not text."""
    if isinstance(value, (str, bytes, bool)) or np.ndim(value) != 0:
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
