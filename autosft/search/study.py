"""Optuna study plumbing: samplers, pruners, and creating or resuming a study safely.

Resuming is the normal case: the same study name on the same storage adds trials to what is
there. A study that exists with other directions is refused rather than silently mixed.
"""

from __future__ import annotations

import warnings
from typing import Any

import optuna

from autosft.attrs import AS_IS_ATTR, CONFIG_ATTR, DEFAULT_TRIAL_ATTR, QUICK_LOOK_ATTR
from autosft.config import Direction, PrunerConfig, SamplerConfig, StudyConfig, parse_study, with_overrides
from autosft.errors import ConfigError
from autosft.storage import mask_url

__all__ = [
    "AS_IS_ATTR", "CONFIG_ATTR", "DEFAULT_TRIAL_ATTR", "QUICK_LOOK_ATTR", "configurations_taken", "is_starting_trial",
    "load_existing_study", "make_pruner", "make_sampler", "open_study", "stored_config",
]  # fmt: skip


def is_starting_trial(trial: optuna.trial.FrozenTrial | optuna.Trial) -> bool:
    """Whether ``trial`` is one of the configurations a new study starts from (as is, quick look, default)."""
    return any(trial.user_attrs.get(attr) for attr in (DEFAULT_TRIAL_ATTR, QUICK_LOOK_ATTR, AS_IS_ATTR))


def configurations_taken(study: optuna.Study) -> list[dict[str, Any]]:
    """The configuration of every trial ``study`` holds, those still waiting in its queue included.

    A queued trial's ``params`` stay empty until a worker takes it (Optuna keeps them aside as its
    fixed params), so comparing with ``params`` alone would queue the default configuration again.
    """
    return [
        dict(trial.params) if trial.state != optuna.trial.TrialState.WAITING
        else dict(trial.system_attrs.get("fixed_params", {}))
        for trial in study.get_trials(deepcopy=False)
    ]  # fmt: skip


def make_sampler(config: SamplerConfig, *, seed: int) -> optuna.samplers.BaseSampler:
    """The configured sampler; TPE is multivariate and grouped because our space is conditional.

    TPE keeps Optuna's 10 random start-up trials: sized down to a quarter of the budget, the starting
    trials (as is, default, quick look: all full fine-tuning at the default values) were most of what
    the model saw, and a 12-trial quickstart never tried freezing or LoRA.
    """
    tpe = {"multivariate": True, "group": True, "constant_liar": True}
    factories: dict[str, tuple[Any, dict[str, Any]]] = {
        "tpe": (optuna.samplers.TPESampler, tpe),
        "random": (optuna.samplers.RandomSampler, {}),
        "cmaes": (optuna.samplers.CmaEsSampler, {}),
        "gp": (optuna.samplers.GPSampler, {}),
        "nsga2": (optuna.samplers.NSGAIISampler, {}),
    }
    factory, defaults = factories[config.name]
    return _construct("sampler", config.name, factory, {**defaults, **config.options, "seed": seed})


def make_pruner(config: PrunerConfig, *, max_steps: int) -> optuna.pruners.BasePruner:
    """The configured pruner; its steps run from 1 to ``max_steps``: epochs, or folds with cross-validation
    (:attr:`~autosft.config.StudyConfig.pruning_steps`)."""
    factories: dict[str, tuple[Any, dict[str, Any]]] = {
        "hyperband": (optuna.pruners.HyperbandPruner, {"min_resource": 1, "max_resource": max_steps}),
        "median": (optuna.pruners.MedianPruner, {"n_startup_trials": 4, "n_warmup_steps": 1}),
        "successive_halving": (optuna.pruners.SuccessiveHalvingPruner, {"min_resource": 1}),
        "none": (optuna.pruners.NopPruner, {}),
    }
    factory, defaults = factories[config.name]
    return _construct("pruner", config.name, factory, {**defaults, **config.options})


def _construct(kind: str, name: str, factory: Any, kwargs: dict[str, Any]) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return factory(**kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{kind} {name!r} rejects its options {kwargs}: {error}") from None


def open_study(
    config: StudyConfig,
    *,
    storage: optuna.storages.BaseStorage,
    storage_url: str,
    directions: list[Direction],
    sampler_seed: int,
) -> optuna.Study:
    """Create the study, or load it when it exists with the same directions."""
    existing = _existing_directions(storage, config.name)
    if existing is not None and existing != directions:
        raise ConfigError(
            f"study {config.name!r} in {mask_url(storage_url)} already exists with direction(s) "
            f"{', '.join(existing)}, but this study file asks for {', '.join(directions)}; use another --study-name"
        )
    study = optuna.create_study(
        storage=storage,
        study_name=config.name,
        directions=directions,
        sampler=make_sampler(config.sampler, seed=sampler_seed),
        pruner=make_pruner(config.effective_pruner, max_steps=config.pruning_steps),
        load_if_exists=True,
    )
    stored = config.model_dump(mode="json", exclude_unset=True)
    if "storage" in stored:  # the password stays with whoever passes the URL: workers, export and status get it anew
        stored["storage"] = mask_url(config.storage)
    if stored.get("warm_start", {}).get("storage"):
        stored["warm_start"]["storage"] = mask_url(stored["warm_start"]["storage"])
    study.set_user_attr(CONFIG_ATTR, stored)
    return study


def _existing_directions(storage: optuna.storages.BaseStorage, name: str) -> list[str] | None:
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return None
    return [direction.name.lower() for direction in storage.get_study_directions(study_id)]


def load_existing_study(storage: optuna.storages.BaseStorage, storage_url: str, name: str | None) -> optuna.Study:
    """Load a study by name; without a name, the storage's only study. Errors list what exists."""
    names = [summary.study_name for summary in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    if name is None:
        if len(names) != 1:
            listed = ", ".join(names) or "none"
            raise ConfigError(
                f"{mask_url(storage_url)} holds {len(names)} studies ({listed}); pick one with --study-name"
            )
        name = names[0]
    elif name not in names:
        raise ConfigError(f"no study {name!r} in {mask_url(storage_url)}; studies there: {', '.join(names) or 'none'}")
    return optuna.load_study(study_name=name, storage=storage)


def stored_config(study: optuna.Study, storage_url: str) -> StudyConfig:
    """The study file a study was (last) searched with, read from the study itself, on ``storage_url``.

    What lets a worker, an export or a report need nothing but the storage URL and the study name.
    """
    if CONFIG_ATTR not in study.user_attrs:
        raise ConfigError(f"study {study.study_name!r} was not created by autosft search: it has no study file")
    config = parse_study(study.user_attrs[CONFIG_ATTR], where=f"study {study.study_name!r}")
    return with_overrides(config, storage=storage_url)
