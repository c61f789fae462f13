"""Every hook a plugin can implement; nothing else lives here.

Hooks are called with keyword arguments. ``autosft_register_*`` hooks receive a ``register``
callback and hand it component instances; the registry records which plugin registered what, so a
name claimed twice is reported with both plugins. The built-in components are themselves a plugin
(:mod:`autosft.default_plugins`) using these same hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import pluggy

from autosft.components import Augmentation, DatasetLoader, ImbalanceStrategy, Metric, ModelBuilder
from autosft.config import StudyConfig
from autosft.contracts import TrialContext, TrialResult
from autosft.portfolios import Portfolio
from autosft.references.base import Reference
from autosft.space import SearchSpace

if TYPE_CHECKING:
    import typer

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "autosft"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --------------------------------------------------------------------------------------------
# Components
# --------------------------------------------------------------------------------------------


@hookspec
def autosft_register_datasets(register: Callable[[DatasetLoader], None]) -> None:
    """Register named dataset loaders.

    Called once whenever a registry is built (each search, validate or ``plugins`` command).

    :param register: call it with each :class:`~autosft.components.DatasetLoader` instance the
        plugin provides; a name already registered by any plugin is an error.
    """


@hookspec
def autosft_register_models(register: Callable[[ModelBuilder], None]) -> None:
    """Register named model builders.

    Called once whenever a registry is built. A builder returns the module, its ordered layer
    groups (input to output) for freezing, and its LoRA target sets.

    :param register: call it with each :class:`~autosft.components.ModelBuilder` instance.
    """


@hookspec
def autosft_register_augmentations(register: Callable[[Augmentation], None]) -> None:
    """Register named batch augmentations whose strength in [0, 1] the search can tune.

    Called once whenever a registry is built.

    :param register: call it with each :class:`~autosft.components.Augmentation` instance.
    """


@hookspec
def autosft_register_imbalance_strategies(register: Callable[[ImbalanceStrategy], None]) -> None:
    """Register named imbalance strategies (loss weighting, sampling, resampling).

    Called once whenever a registry is built.

    :param register: call it with each :class:`~autosft.components.ImbalanceStrategy` instance.
    """


@hookspec
def autosft_register_metrics(register: Callable[[Metric], None]) -> None:
    """Register named metrics with their direction and the task types they score.

    Called once whenever a registry is built.

    :param register: call it with each :class:`~autosft.components.Metric` instance.
    """


@hookspec
def autosft_register_references(register: Callable[[Reference], None]) -> None:
    """Register named reference models every study is compared against (class prior, linear
    models, gradient-boosted trees, TF-IDF, popularity, the pre-trained model as is).

    Called once whenever a registry is built. Each :class:`~autosft.references.Reference` that fits
    a study's input kind and task is fitted on its training split and scored on validation before
    the search, then refitted like the chosen trial and scored once on test.

    :param register: call it with each :class:`~autosft.references.Reference` instance.
    """


@hookspec
def autosft_register_portfolios(register: Callable[[Portfolio], None]) -> None:
    """Register portfolios: configurations of a model builder that did well across tasks.

    Called once whenever a registry is built. A new study whose model builder has a portfolio tries
    its configurations right after the starting trials (and any warm start), in place of the
    sampler's random start-up, unless the study file sets ``search: {portfolio: false}``. Ship the
    configurations as JSON package data and read them with :func:`autosft.load_portfolio`.

    :param register: call it with each :class:`~autosft.portfolios.Portfolio` instance; its ``name``
        is the model builder's name, and one builder has at most one portfolio.
    """


# --------------------------------------------------------------------------------------------
# Search space
# --------------------------------------------------------------------------------------------


@hookspec
def autosft_extend_search_space(space: SearchSpace, study: StudyConfig) -> None:
    """Add dimensions to a study's search space.

    Called after the built-in dimensions are declared and before the study file's overrides are
    applied, so users can override plugin dimensions too. Sampled values reach the trial as
    ``TrialPlan.extra[name]``.

    :param space: the :class:`~autosft.space.SearchSpace` to add dimensions to with
        ``space.add(...)``.
    :param study: the validated study configuration, to add dimensions only when relevant.
    """


# --------------------------------------------------------------------------------------------
# Trial lifecycle (observers: return values are ignored)
# --------------------------------------------------------------------------------------------


@hookspec
def autosft_trial_start(context: TrialContext) -> None:
    """Called in the worker when a trial's plan is sampled, before its model is built.

    :param context: the trial number, its :class:`~autosft.contracts.TrialPlan`, the study
        configuration and the device it runs on.
    """


@hookspec
def autosft_epoch_end(context: TrialContext, epoch: int, metrics: Mapping[str, float]) -> None:
    """Called after each epoch's validation, before the pruner decides.

    :param context: the running trial's context.
    :param epoch: the epoch just finished, counted from 1.
    :param metrics: validation metrics of that epoch plus ``train_loss``.
    """


@hookspec
def autosft_trial_end(context: TrialContext, result: TrialResult | None, state: str) -> None:
    """Called once when a trial ends, whatever its outcome.

    :param context: the trial's context.
    :param result: the finished :class:`~autosft.contracts.TrialResult`, or ``None`` when
        the trial was pruned or failed.
    :param state: ``"COMPLETE"``, ``"PRUNED"`` or ``"FAIL"``.
    """


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


@hookspec
def autosft_register_commands(app: typer.Typer) -> None:
    """Add commands to the ``autosft`` command line.

    Called once when the CLI app is built. Keep imports inside the command functions so that
    ``autosft --help`` stays fast.

    :param app: the :class:`typer.Typer` application; decorate functions with ``app.command()``.
    """
