"""`status`, `best` and `plugins`: the commands that show a study or the installation."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from autosft.cli_support import console, plugin_manager
from autosft.commands.options import NameOption, StorageOption, StudyOption, open_selected
from autosft.views import print_verdict

if TYPE_CHECKING:
    import optuna

__all__ = ["best", "plugins", "status"]


def status(
    context: typer.Context, study: StudyOption = None, storage: StorageOption = None, study_name: NameOption = None
) -> None:
    """Show every trial of a study (state, value, parameters, duration, worker), then each worker's share.

    A RUNNING trial whose worker stopped beating is shown as stale: the next worker to start a
    trial fails it and queues it again with its parameters.
    """
    from autosft.evaluate.selection import SELECTION_ATTR
    from autosft.search.monitor import stale_trial_numbers, worker_activity
    from autosft.views import retained_cell, retained_metric, selection_table

    loaded, url = open_selected(study, storage, study_name)
    trials = loaded.get_trials(deepcopy=False)
    stale = stale_trial_numbers(loaded, url)
    # Wide, parameters and worker are columns; narrow (an 80-column terminal), each trial's go on a
    # line of their own below the table, wrapped between words rather than folded inside them.
    wide = console.width >= WIDE_STATUS
    table = Table(title=f"study {loaded.study_name!r}")
    guarded = retained_metric(loaded)  # a study with a reference: each trial's retained performance
    retained = ("retained",) if guarded else ()
    columns = ("trial", "state", "value", *retained, "parameters", "seconds", "worker", "note")
    shown = [column for column in columns if wide or column not in ("parameters", "worker")]
    for column in shown:
        table.add_column(column)
    counts: dict[str, int] = {}
    rows = [_status_row(trial, stale) | {"retained": retained_cell(trial, guarded)} for trial in trials]
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
        table.add_row(*(row[column] for column in shown))
    console.print(table)
    for row in [] if wide else rows:
        worker = f" ({row['worker']})" if row["worker"] else ""
        console.print(f"trial {row['trial']}: {row['parameters']}{worker}", soft_wrap=False)
    workers = Table(title="workers")
    for column in ("worker", "running", "finished", "last seen"):
        workers.add_column(column)
    for activity in worker_activity(trials):
        running = ", ".join(f"trial {n}" + (" (stale)" if n in stale else "") for n in activity.running) or "idle"
        finished = ", ".join(f"{count} {state.lower()}" for state, count in sorted(activity.finished.items()))
        seen = f"{activity.last_seen:%Y-%m-%d %H:%M:%S}" if activity.last_seen else ""
        workers.add_row(activity.worker, running, finished, seen)
    console.print(workers)
    console.print(", ".join(f"{count} {state.lower()}" for state, count in sorted(counts.items())) or "no trials")
    if loaded.user_attrs.get(SELECTION_ATTR):
        console.print(selection_table(loaded.user_attrs[SELECTION_ATTR]))
    print_verdict(console, loaded)


#: Terminal columns from which `status` shows parameters and workers as columns of its table.
WIDE_STATUS = 120


def _status_row(trial: optuna.trial.FrozenTrial, stale: set[int]) -> dict[str, str]:
    """One trial as `status` shows it: state, value, parameters, seconds, worker and a note."""
    import datetime

    import optuna

    from autosft.evaluate.constraints import is_feasible, violations
    from autosft.views import describe_params, fold_scores, pruned_at, trial_origin

    note = trial.user_attrs.get("fail_reason", "")
    folds = fold_scores(trial)
    if trial.state == optuna.trial.TrialState.PRUNED:
        note = f"pruned after {pruned_at(trial)}"
    elif trial.number in stale:
        note = "no heartbeat: its worker is gone; the next worker to start a trial re-queues it"
    elif trial.state == optuna.trial.TrialState.RUNNING and trial.datetime_start is not None:
        epochs = len(trial.user_attrs.get("history", []))
        running = (datetime.datetime.now() - trial.datetime_start).total_seconds()
        note = f"running for {running:.0f}s, {epochs} epoch(s) done"
    elif "failed_trial" in trial.system_attrs:
        note = f"retry of trial {trial.system_attrs['failed_trial']}"
    infeasible = not is_feasible(trial)
    if infeasible:  # never selected: the constraints it misses say why
        note = "infeasible: " + "; ".join(violations(trial)) + (f"; {note}" if note else "")
    origin = trial_origin(trial)
    note = "; ".join(part for part in (origin, folds, note) if part)
    waiting = trial.state == optuna.trial.TrialState.WAITING  # a queued retry carries its dead worker's name
    return {
        "trial": str(trial.number),
        "state": "RUNNING (stale)" if trial.number in stale else trial.state.name + (" (infeasible)" * infeasible),
        "value": "" if trial.values is None else ", ".join(f"{v:.4f}" for v in trial.values),
        "parameters": describe_params(trial.params),
        "seconds": f"{trial.duration.total_seconds():.1f}" if trial.duration else "",
        "worker": "" if waiting else trial.user_attrs.get("worker", ""),
        "note": note,
    }


def best(
    context: typer.Context,
    study: StudyOption = None,
    storage: StorageOption = None,
    study_name: NameOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Show the selected trial (the seed-robust choice when the study made one, else the best):
    objective value(s) (with cross-validation: the mean, and the scores per fold), every parameter,
    every metric, and the test score."""
    from autosft.attrs import FOLD_SCORES_ATTR, FOLDS_ATTR, REFERENCE_BASELINE_ATTR
    from autosft.evaluate.constraints import extra_metrics, is_feasible
    from autosft.evaluate.holdout import FINAL_TEST_ATTR, selected_trial
    from autosft.evaluate.selection import SELECTION_ATTR
    from autosft.evaluate.slices import stored_slices
    from autosft.evaluate.verdict import study_verdict
    from autosft.views import fold_scores, print_slices, selection_table

    loaded, _ = open_selected(study, storage, study_name)
    trial = selected_trial(loaded)
    selection = loaded.user_attrs.get(SELECTION_ATTR)
    record: dict[str, Any] = {
        "study": loaded.study_name,
        "trial": trial.number,
        "values": trial.values,
        "params": trial.params,
        "metrics": trial.user_attrs.get("metrics", {}),
        "extra_metrics": extra_metrics(trial),
        "constraints": trial.constraints,
        "feasible": is_feasible(trial),
        "reference_baseline": loaded.user_attrs.get(REFERENCE_BASELINE_ATTR),
        "best_epoch": trial.user_attrs.get("best_epoch"),
        "folds": trial.user_attrs.get(FOLD_SCORES_ATTR),
        "cross_validation": loaded.user_attrs.get(FOLDS_ATTR),
        "plan": trial.user_attrs.get("plan", {}),
        "timings": trial.user_attrs.get("timings", {}),
        # the slices come on their own below, not twice
        "final_test": _without(loaded.user_attrs.get(FINAL_TEST_ATTR), "slices"),
        "selection": selection,
        "references": study_verdict(loaded),
        "slices": stored_slices(loaded, trial.number),
    }
    if as_json:
        print(json.dumps(record, indent=2, default=str))
        return
    if selection:
        console.print(selection_table(selection))
    chosen = (
        "selected trial (best mean over seeds)"
        if selection and selection["selected_trial"] is not None
        else "best trial"
    )
    folds = fold_scores(trial)
    console.print(f"{chosen} {trial.number} of study {loaded.study_name!r}: values {trial.values}"
                  + (f" (mean over {folds})" if folds else ""))  # fmt: skip
    shown = ("params", "metrics", "extra_metrics", "constraints", "final_test")
    console.print_json(json.dumps({key: record[key] for key in shown if record[key] != {}}, default=str))
    print_verdict(console, loaded)
    print_slices(console, record["slices"])


def _without(record: Any, key: str) -> Any:
    return {name: value for name, value in record.items() if name != key} if isinstance(record, dict) else record


def plugins(
    context: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this plugin (or distribution, e.g. autosft-acme).")] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Check every component on tiny data, one line per finding; exit 1 on a failure."),
    ] = False,
) -> None:
    """List plugins with their versions and the components each registers; with --check, run the plugin
    doctor: loaders, models (every freezing depth and LoRA target set), metrics, augmentations and
    imbalance strategies checked against their contracts on tiny data."""
    from importlib.metadata import version

    from autosft.doctor import resolve_plugin
    from autosft.registry import collect_registry

    manager = plugin_manager(context)
    if check:
        from autosft.commands.doctor import run_doctor

        raise typer.Exit(run_doctor(manager, name))
    only = resolve_plugin(manager, name) if name is not None else None
    registry = collect_registry(manager)
    versions = {manager.get_name(plugin): dist.version for plugin, dist in manager.list_plugin_distinfo()}
    table = Table(title="autosft plugins")
    for column in ("plugin", "version", "components"):
        table.add_column(column, overflow="fold")
    for name, plugin in manager.list_name_plugin():  # registration order: built-ins first
        if plugin is None or only not in (None, name):  # blocked through AUTOSFT_DISABLE_PLUGINS, or not asked for
            continue
        parts = [f"{t.plural}: {', '.join(t.by_plugin()[name])}" for t in registry.tables() if name in t.by_plugin()]
        plugin_version = versions.get(name) or (version("autosft") if name.startswith("autosft.") else "")
        table.add_row(name, plugin_version, "; ".join(parts) or "(commands or hooks only)")
    console.print(table)
