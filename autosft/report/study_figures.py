"""The search's plots: Optuna's own visualizations of the study, plus the learning curves autosft records.

Optuna's plots (history, importances, parallel coordinates, slices, Pareto front) are used as they
are, so the report shows what ``optuna.visualization`` and the dashboard show. A plot that cannot
be drawn for this study (importances need two finished trials with a parameter in common) becomes
a note saying why, never a failed report.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
import plotly.graph_objects as go

from autosft.config import StudyConfig
from autosft.evaluate.constraints import is_feasible

__all__ = ["Figure", "Section", "objective_names", "study_sections", "top_trials"]

#: How many of the best trials the learning-curve plot draws.
TOP_TRIALS = 5


@dataclass
class Figure:
    """One plot (or, when it cannot be drawn, the reason) under a title."""

    title: str
    figure: go.Figure | None = None
    note: str = ""
    wide: bool = False  # spans the page instead of half of it


@dataclass
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    html: str = ""  # a table or text shown above the figures


def top_trials(study: optuna.Study, count: int = TOP_TRIALS) -> list[optuna.trial.FrozenTrial]:
    """The best complete, feasible trials on the first objective, best first (an infeasible trial is
    never a top trial: :mod:`autosft.evaluate.constraints`)."""
    complete = [trial for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
                if is_feasible(trial)]  # fmt: skip
    maximize = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    return sorted(complete, key=lambda trial: trial.values[0], reverse=maximize)[:count]


def objective_names(study: optuna.Study, config: StudyConfig | None) -> list[str]:
    """The metric names of an autosft study; plain Optuna studies get numbered objectives."""
    if config is not None:
        return [objective.metric for objective in config.objectives]
    return [f"objective {index}" for index in range(len(study.directions))]


def study_sections(study: optuna.Study, config: StudyConfig | None) -> list[Section]:
    """The search's plots, in the order a reader asks: did it converge, what mattered, how trials ran."""
    names = objective_names(study, config)
    target: Callable[[optuna.trial.FrozenTrial], float] | None = None
    if len(study.directions) > 1:

        def target(trial: optuna.trial.FrozenTrial) -> float:
            return trial.values[0]

    from optuna import visualization as vis

    primary = names[0]
    search = Section("Search")
    search.figures.append(_optuna("Optimization history", vis.plot_optimization_history, study,
                                  target=target, target_name=primary))  # fmt: skip
    if len(study.directions) > 1:
        search.figures.append(_optuna("Pareto front", vis.plot_pareto_front, study, target_names=names))
    search.figures.append(_trial_states(study))
    search.figures.append(_learning_curves(study, primary))
    space = Section("Hyperparameters")
    space.figures.append(_optuna("Hyperparameter importances (fANOVA)", vis.plot_param_importances, study,
                                 target=target, target_name=primary))  # fmt: skip
    space.figures.append(_optuna("Parallel coordinates", vis.plot_parallel_coordinate, study,
                                 target=target, target_name=primary))  # fmt: skip
    space.figures.append(_optuna("Slice plots", vis.plot_slice, study, target=target, target_name=primary))
    for item in space.figures[1:]:
        item.wide = True
    return [search, space]


def _optuna(title: str, plot: Callable[..., go.Figure], study: optuna.Study, **kwargs: Any) -> Figure:
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        return Figure(title, note="no complete trial yet")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental and "too few trials" warnings: the note says it
            figure = plot(study, **kwargs)
    except (ValueError, RuntimeError) as error:
        return Figure(title, note=f"not drawn: {str(error).splitlines()[0]}")
    if not figure.data:
        return Figure(title, note="not drawn: no trial has a parameter to plot")
    figure.update_layout(title=None, margin={"t": 30})
    return Figure(title, figure)


def _trial_states(study: optuna.Study) -> Figure:
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    colours = {"COMPLETE": "#2ca02c", "PRUNED": "#ff7f0e", "FAIL": "#d62728", "RUNNING": "#1f77b4"}
    figure = go.Figure(go.Bar(x=list(counts), y=list(counts.values()), text=list(counts.values()),
                              marker_color=[colours.get(state, "#7f7f7f") for state in counts]))  # fmt: skip
    figure.update_layout(yaxis_title="trials", margin={"t": 30}, height=350)
    return Figure("Trials by state (pruned vs complete)", figure)


def _learning_curves(study: optuna.Study, metric: str) -> Figure:
    """Validation ``metric`` per epoch of the best trials, from the ``history`` each trial records."""
    figure = go.Figure()
    for trial in top_trials(study):
        history = trial.user_attrs.get("history") or []
        points = [(row["epoch"], row.get(metric)) for row in history if row.get(metric) is not None]
        if points:
            epochs, values = zip(*points, strict=True)
            figure.add_trace(go.Scatter(x=epochs, y=values, mode="lines+markers", name=f"trial {trial.number}"))
    if not figure.data:
        return Figure(f"Learning curves of the top {TOP_TRIALS} trials", note="no trial recorded a history")
    figure.update_layout(xaxis_title="epoch", yaxis_title=f"validation {metric}", margin={"t": 30})
    return Figure(f"Learning curves of the top {TOP_TRIALS} trials", figure)
