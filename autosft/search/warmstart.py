"""Warm start: a new study tries the best configurations of earlier studies first.

How a team re-fine-tunes every month on new data: last month's study (same model builder, same
task) knows which configurations did well; its ``top_k`` best complete trials are queued right
after the new study's starting trials, moved into the current search space, so the first trials of
the month are last month's winners re-judged on this month's data, and the sampler learns from
them like from any other trial. Only a new study is warm-started: a resumed one never queues them
again.

Two steps, because they need different things: :func:`find_warm_start` reads the earlier studies
(a name that is not there, or a study of another model or task, is a one-line
:class:`~autosft.errors.ConfigError` before any data is loaded); :func:`enqueue_warm_start` needs
the prepared search space to move each configuration into it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna

from autosft.attrs import AS_IS_ATTR, CONFIG_ATTR, WARM_START_ATTR
from autosft.config import StudyConfig
from autosft.errors import ConfigError
from autosft.evaluate.constraints import is_feasible
from autosft.evaluate.selection import rerun_tag
from autosft.search.study import configurations_taken, load_existing_study
from autosft.space import SearchSpace
from autosft.storage import mask_url, open_storage

__all__ = ["WarmCandidate", "enqueue_warm_start", "find_warm_start"]

#: Where a warm start says what it did, one line each (the CLI prints them on stderr); ``None``: nowhere.
Notice = Callable[[str], None] | None


@dataclass(frozen=True)
class WarmCandidate:
    """A complete trial of an earlier study, as it ran there."""

    study: str
    trial: int
    params: dict[str, Any]


def find_warm_start(
    config: StudyConfig, storage: optuna.storages.BaseStorage, notice: Notice
) -> list[list[WarmCandidate]]:
    """Each study of ``config.warm_start``'s complete trials, best first, in the order named.

    The studies are looked up in ``warm_start.storage``, else in ``storage`` (the study's own). A
    name that is not there, a study autosft did not create, or one of another model builder or task
    raises :class:`ConfigError`: a warm start the user asked for should not silently do nothing. A
    study with no complete trial only gives a notice: it has nothing to teach, but is no mistake.
    """
    warm = config.warm_start
    if not warm.studies:
        return []
    url = warm.storage or config.storage
    source = open_storage(url, must_exist=True) if warm.storage else storage
    found = []
    for name in warm.studies:
        try:
            study = load_existing_study(source, url, name)
        except ConfigError as error:
            raise ConfigError(f"warm_start: {error}") from None
        _check_same_problem(study, config, url)
        ranked = _ranked_trials(study)
        if not ranked and notice is not None:
            notice(f"study {name!r} has no complete trial: nothing to warm-start from")
        found.append([WarmCandidate(name, trial.number, dict(trial.params)) for trial in ranked])
    return found


def enqueue_warm_start(
    study: optuna.Study, space: SearchSpace, found: list[list[WarmCandidate]], *, top_k: int, notice: Notice
) -> list[WarmCandidate]:
    """Queue, after what ``study`` already holds (its starting trials), up to ``top_k`` distinct
    configurations of each earlier study, moved into ``space`` (:meth:`SearchSpace.nearest_params`).

    A configuration that, once moved, equals one already queued (the default, another study's) is
    skipped for the next best, so each study brings its ``top_k`` best *different* ones. Each queued
    trial carries :data:`~autosft.attrs.WARM_START_ATTR` naming where it came from. Returns them.
    """
    taken = configurations_taken(study)
    queued: list[WarmCandidate] = []
    for candidates in found:
        picked = 0
        for candidate in candidates:
            params = space.nearest_params(candidate.params)
            if picked == top_k or params in taken:
                continue
            study.enqueue_trial(params, user_attrs={WARM_START_ATTR: {"study": candidate.study,
                                                                      "trial": candidate.trial}})  # fmt: skip
            taken.append(params)
            queued.append(candidate)
            picked += 1
    if queued and notice is not None:
        sources = "; ".join(
            f"study {name!r} trial(s) {', '.join(str(c.trial) for c in queued if c.study == name)}"
            for name in dict.fromkeys(c.study for c in queued)
        )
        notice(f"{len(queued)} configuration(s) queued after the starting trials: {sources}")
    return queued


def _check_same_problem(study: optuna.Study, config: StudyConfig, url: str) -> None:
    """Refuse a study whose configurations answer another question: another model builder or task."""
    stored = study.user_attrs.get(CONFIG_ATTR)
    where = f"warm_start: study {study.study_name!r} in {mask_url(url)}"
    if not isinstance(stored, dict):
        raise ConfigError(f"{where} was not created by autosft search: it has no study file")
    theirs = (stored.get("model", {}).get("name"), stored.get("task"))
    ours = (config.model.name, config.task)
    if theirs != ours:
        raise ConfigError(
            f"{where} is of model {theirs[0]!r} and task {theirs[1]!r}, but this study is of model {ours[0]!r} "
            f"and task {ours[1]!r}: its configurations are no guide here; name a study of the same model and task"
        )


def _ranked_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Complete, feasible trials by the study's first objective, best first. Seed re-runs repeat a
    configuration with another seed, and the model as is trained nothing: neither is a configuration
    of its own; a trial that missed the earlier study's constraints is no winner to start from."""
    complete = [
        trial
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if rerun_tag(trial) is None
        and not trial.user_attrs.get(AS_IS_ATTR)
        and is_feasible(trial)
        and math.isfinite(trial.values[0])
    ]
    best_high = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    return sorted(complete, key=lambda trial: trial.values[0], reverse=best_high)
