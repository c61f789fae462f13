"""Portfolio start: a new study tries its model builder's portfolio before the sampler takes over.

Optuna's TPE samples its first ``n_startup_trials`` (10) at random; in a 6-20 trial fine-tuning
study that is most of the budget. The portfolio (:class:`~autosft.portfolios.Portfolio`) takes those
start-up places: its configurations are queued after the starting trials and any warm start, moved
into the study's space (:meth:`~autosft.space.SearchSpace.nearest_params`), up to the places left in
the start-up window and half the budget, so the sampler still has trials of its own. They are judged
like any trial: the pruner stops the weak ones at its first rungs, which races them at low fidelity
against the starting trials, and TPE then models all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import optuna

from autosft.attrs import PORTFOLIO_ATTR
from autosft.config import StudyConfig
from autosft.errors import ConfigError, PluginError
from autosft.portfolios import RELATIVE_DIMENSIONS, Portfolio, parse_portfolio
from autosft.registry import Registry
from autosft.search.study import configurations_taken
from autosft.space import Float, SearchSpace

__all__ = ["STARTUP_WINDOW", "enqueue_portfolio", "portfolio_file", "portfolio_of", "resolved_configuration"]

#: Random start-up trials of Optuna's TPE (its ``n_startup_trials`` default): the places a portfolio fills,
#: unless the study's sampler options set ``n_startup_trials``.
STARTUP_WINDOW = 10


def portfolio_of(config: StudyConfig, registry: Registry) -> Portfolio | None:
    """The study's portfolio: the file ``search.portfolio`` names, else its model builder's registered one;
    ``None`` when the study turned portfolios off or none is registered."""
    named = portfolio_file(config)
    if named is not None:
        return named
    if not config.search.portfolio or config.model.name not in registry.portfolios.entries:
        return None
    return registry.portfolios.get(config.model.name)


def portfolio_file(config: StudyConfig) -> Portfolio | None:
    """The portfolio file ``search.portfolio`` names, read and checked; ``None`` when it names none.

    A file that cannot be read, or one learned for another model builder, is a one-line
    :class:`ConfigError`: ``validate`` and ``search`` call this before any data is loaded.
    """
    chosen = config.search.portfolio
    if not isinstance(chosen, Path):
        return None
    where = f"search.portfolio: {chosen}"
    try:
        portfolio = parse_portfolio(chosen.read_text(encoding="utf-8"), where=where)
    except OSError as error:
        raise ConfigError(f"{where} cannot be read: {error.strerror or error}") from None
    except PluginError as error:
        raise ConfigError(str(error)) from None
    if portfolio.name != config.model.name:
        raise ConfigError(
            f"{where} is a portfolio of model {portfolio.name!r}, but this study's model is {config.model.name!r}"
        )
    return portfolio


def resolved_configuration(space: SearchSpace, entry: Mapping[str, Any]) -> dict[str, Any]:
    """A portfolio entry as Optuna params of ``space``: relative rates times the space's defaults,
    then the nearest configuration the space allows."""
    values = dict(entry)
    for name in RELATIVE_DIMENSIONS:
        dimension = space.dimensions.get(name)
        if name in values and isinstance(dimension, Float):
            values[name] = dimension.default * float(values[name])
        elif name in values:
            del values[name]  # fixed or absent here: the study's own value stands
    return space.nearest_params(values)


def enqueue_portfolio(
    study: optuna.Study, space: SearchSpace, portfolio: Portfolio, *, config: StudyConfig, pretrained: bool,
    notice: Callable[[str], None] | None,
) -> int:  # fmt: skip
    """Queue the portfolio's configurations after what ``study`` holds; how many were queued.

    None where the portfolio was learned on models from the other kind of weights than the study's
    (``pretrained``, see :meth:`Portfolio.fits`): the study says so in one line and starts as without one.

    Places: what is left of the sampler's start-up window (its ``n_startup_trials`` option, else
    :data:`STARTUP_WINDOW`) after the trials already queued, at most half of the budget's ``n_trials``,
    and never more than the budget can still run: a queued trial left over would jump the queue of
    the next run, ahead of the sampler.
    A configuration equal, once moved into the space, to one already queued (the default, a warm
    start, an earlier entry) is skipped for the next. Each carries :data:`PORTFOLIO_ATTR`.
    """
    if not portfolio.fits(pretrained=pretrained):
        if notice is not None:
            ours = "pre-trained" if pretrained else "random"
            notice(f"the {portfolio.name} portfolio was learned on models from {portfolio.weights} weights and this "
                   f"study's model starts from {ours} ones, so none of it is queued")  # fmt: skip
        return 0
    taken = configurations_taken(study)
    window = int(config.sampler.options.get("n_startup_trials", STARTUP_WINDOW))
    places = min(window - len(taken), config.budget.n_trials // 2, config.budget.n_trials - len(taken))
    queued = 0
    for index, entry in enumerate(portfolio.configurations):
        if queued >= places:
            break
        params = resolved_configuration(space, entry)
        if params in taken:
            continue
        study.enqueue_trial(params, user_attrs={PORTFOLIO_ATTR: {"model": portfolio.name, "entry": index}})
        taken.append(params)
        queued += 1
    if queued and notice is not None:
        source = f" (learned on {portfolio.source})" if portfolio.source else ""
        notice(f"{queued} configuration(s) of the {portfolio.name} portfolio{source} queued after the starting trials")
    return queued
