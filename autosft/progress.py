"""The live display of a running search: a progress bar with counts by state and the best value,
and one line per finished trial."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from autosft.attrs import AS_IS_ATTR
from autosft.evaluate.constraints import is_feasible, violations
from autosft.views import describe_params, pruned_at, trial_origin

if TYPE_CHECKING:
    import optuna

    from autosft.search.prepare import PreparedStudy

__all__ = ["SearchProgress", "describe_trial"]


def describe_trial(trial: optuna.trial.FrozenTrial, metric: str) -> str:
    """One line for a finished trial: number, outcome, key parameters, duration (Rich markup)."""
    seconds = trial.duration.total_seconds() if trial.duration else math.nan
    if trial.state.name == "COMPLETE":
        outcome = f"[green]COMPLETE[/] {metric}=" + ", ".join(f"{value:.4f}" for value in trial.values)
        if not is_feasible(trial):  # never selected: say which bound it missed
            outcome += f" [red]infeasible[/]: {escape('; '.join(violations(trial)))}"
    elif trial.state.name == "PRUNED":
        outcome = f"[yellow]PRUNED[/] after {pruned_at(trial)}"
    else:
        outcome = f"[red]{trial.state.name}[/] {escape(trial.user_attrs.get('fail_reason', ''))}"
    origin = trial_origin(trial)
    note = f"  ({escape(origin)})" if origin else ""
    if trial.user_attrs.get(AS_IS_ATTR):  # its parameters were never used: it trained zero epochs
        return f"trial {trial.number:>3} {outcome}  the pre-trained model as is (no training)  {seconds:.1f}s"
    return f"trial {trial.number:>3} {outcome}  {escape(describe_params(trial.params))}  {seconds:.1f}s{note}"


class SearchProgress:
    """An Optuna callback that drives a Rich progress bar (on stderr) for ``n_trials`` trials."""

    def __init__(self, n_trials: int, console: Console) -> None:
        self.n_trials = n_trials
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task("searching", total=n_trials)
        self.counts = {"COMPLETE": 0, "PRUNED": 0, "FAIL": 0}
        self.metric = ""

    def __enter__(self) -> SearchProgress:
        return self

    def __exit__(self, *_: object) -> None:
        if self.progress.live.is_started:
            self.progress.stop()

    def started(self, prepared: PreparedStudy, study: optuna.Study) -> None:
        """Show the bar once the study is prepared, so a set-up error stays a single line."""
        self.metric = prepared.objective_keys[0]
        self.progress.update(self.task, description=f"study {escape(repr(study.study_name))}: searching")
        self.progress.start()

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        state = trial.state.name
        self.counts[state] = self.counts.get(state, 0) + 1
        self.console.print(describe_trial(trial, self.metric), highlight=False)
        best = self._best(study)
        description = (
            f"{self.counts['COMPLETE']} complete · {self.counts['PRUNED']} pruned · {self.counts['FAIL']} failed"
            + (f" · best {self.metric} {best}" if best else "")
        )
        done = self.progress.tasks[0].completed + 1
        # Seed re-runs come after the budget: the bar grows with them rather than overflow.
        self.progress.update(self.task, advance=1, description=description, total=max(self.n_trials, done))

    @staticmethod
    def _best(study: optuna.Study) -> str:
        """The best value the search proposed; a seed re-run's luck is no configuration's score."""
        from autosft.evaluate.selection import rerun_tag

        if len(study.directions) > 1:
            return ""
        values = [t.values[0] for t in study.get_trials(deepcopy=False)
                  if t.values and rerun_tag(t) is None and is_feasible(t)]  # fmt: skip
        if not values:
            return ""
        return f"{max(values) if study.direction.name == 'MAXIMIZE' else min(values):.4f}"
