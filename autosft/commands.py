"""The built-in commands: search, worker, status, best, export, report, plugins, validate, check-data, schema.

Each imports what it needs when it runs, which keeps ``autosft --help`` free of torch and optuna.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from autosft.cli import console, errors, plugin_manager, sigterm_as_interrupt
from autosft.config import DEFAULT_STORAGE
from autosft.errors import ConfigError

if TYPE_CHECKING:
    import optuna

    from autosft.config import StudyConfig

__all__ = ["COMMANDS"]

StudyFile = Annotated[Path, typer.Argument(help="Study file (YAML).", show_default=False)]
StorageOption = Annotated[
    str | None, typer.Option("--storage", help=f"SQLAlchemy URL of the study database [default: {DEFAULT_STORAGE}].")
]
NameOption = Annotated[str | None, typer.Option("--study-name", help="Study name in the storage.")]
StudyOption = Annotated[
    Path | None, typer.Option("--study", help="Read --storage and --study-name from this study file.")
]
DropRepeatsOption = Annotated[
    bool,
    typer.Option("--drop-repeats", help="Drop val/test rows that repeat earlier splits (data_check.drop_repeats)."),
]


def _dropping_repeats(config: StudyConfig, drop_repeats: bool) -> StudyConfig:
    """The study with ``data_check.drop_repeats`` on when the flag asks for it (it is stored with the study)."""
    from autosft.config import DataCheckConfig

    return config.model_copy(update={"data_check": DataCheckConfig(drop_repeats=True)}) if drop_repeats else config


def search(
    context: typer.Context,
    study_file: StudyFile,
    storage: StorageOption = None,
    study_name: NameOption = None,
    n_trials: Annotated[int | None, typer.Option("--n-trials", help="Trials to add in this run.")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Stop starting trials after SECONDS.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of sampler, splits and trials.")] = None,
    final_test: Annotated[
        bool, typer.Option("--final-test/--no-final-test", help="Retrain the best trial and score the test split.")
    ] = True,
    devices: Annotated[
        str | None, typer.Option("--devices", help="auto, cpu, or cuda:0,cuda:1,... [default: auto]")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Worker processes sharing the study [default: one per device]."),
    ] = None,
    recycle_after: Annotated[
        int | None,
        typer.Option(
            "--recycle-after",
            help="Replace each worker process after N trials; 0 = never "
            "[default: GPU workers after every trial, CPU workers never].",
        ),
    ] = None,
    skip_data_check: Annotated[
        bool, typer.Option("--skip-data-check", help="Search even when `autosft check-data` finds errors.")
    ] = False,
    drop_repeats: DropRepeatsOption = False,
) -> None:
    """Search fine-tuning configurations; re-running resumes the study and adds trials."""
    from autosft.config import load_study_file, with_overrides
    from autosft.evaluate.datacheck import DataReport
    from autosft.evaluate.selection import selection_table
    from autosft.progress import SearchProgress, describe_params
    from autosft.search.controller import run_search
    from autosft.storage import mask_url

    config = with_overrides(load_study_file(study_file), storage=storage, study_name=study_name,
                            n_trials=n_trials, timeout=timeout, seed=seed)  # fmt: skip
    config = _dropping_repeats(config, drop_repeats)
    import optuna

    # The progress display reports every trial, failures with their reason; Optuna's own
    # per-trial log lines (with tracebacks for failures) would only repeat it.
    optuna.logging.set_verbosity(optuna.logging.ERROR)

    def warn(report: DataReport) -> None:
        for finding in report.warnings:
            errors.print(f"[yellow]data warning:[/] {finding.check}: {finding.message}", highlight=False)
        for finding in report.notices:
            errors.print(f"[dim]data check:[/] {finding.message}", highlight=False)

    with sigterm_as_interrupt(), SearchProgress(config.budget.n_trials, errors) as progress:
        outcome = run_search(config, manager=plugin_manager(context), callbacks=[progress], final_test=final_test,
                             devices=devices, workers=workers, recycle_after=recycle_after,
                             on_prepared=progress.started, check_data=not skip_data_check,
                             on_data_checked=warn)  # fmt: skip
    study = outcome.study
    added = ", ".join(f"{count} {state.lower()}" for state, count in sorted(outcome.states.items()))
    console.print(f"study {study.study_name!r} in {mask_url(config.storage)}: {len(study.trials)} trials ({added})")
    if outcome.stopped_reason:
        errors.print(f"[yellow]search stopped early:[/] {outcome.stopped_reason}", highlight=False)
    if workers == 0:
        console.print(f"study ready for its workers: autosft worker --storage '{mask_url(config.storage)}' "
                      f"--study-name {study.study_name}")  # fmt: skip
        return
    if outcome.final_test is None:
        if not outcome.states.get("COMPLETE"):
            console.print("no complete trial yet: nothing to report as best")
            return
        reason = "--no-final-test" if not final_test else "the test split is empty"
        console.print(f"no held-out test ({reason}); `autosft best` shows the selected trial")
        return
    if outcome.selection is not None:
        console.print(selection_table(outcome.selection))
    best = study.trials[outcome.final_test["trial"]]
    metric_names = ", ".join(o.metric for o in config.objectives)
    chosen = "selected (best mean over seeds)" if outcome.selection and outcome.selection["selected_trial"] else "best"
    console.print(f"{chosen} trial {best.number}: validation {metric_names} = "
                  f"{', '.join(f'{v:.4f}' for v in best.values)}")  # fmt: skip
    console.print(f"  {describe_params(best.params)}")
    console.print_json(json.dumps(best.params))
    test = outcome.final_test["test_metrics"]
    console.print(
        "held-out test: " + ", ".join(f"{name}={value:.4f}" for name, value in test.items() if value is not None)
    )
    console.print(f"wall time {outcome.seconds:.1f}s; run the same command again to add trials to this study")


def worker(
    context: typer.Context,
    storage: StorageOption = None,
    study_name: NameOption = None,
    device: Annotated[str | None, typer.Option("--device", help="cpu, cuda or cuda:N [default: auto]")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Print nothing per trial.")] = False,
    max_trials: Annotated[
        int | None,
        typer.Option("--max-trials", min=1, help="Leave after N trials (to be replaced by a fresh process)."),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0, help="Start no trial after SECONDS [default: the study's].")
    ] = None,
) -> None:
    """Join a study started by `autosft search` and run its trials until its budget is spent.

    Start one per machine or GPU (e.g. as a Slurm array or Kubernetes Job); each needs only the
    storage URL, the study name, and the same plugins installed.
    """
    import optuna

    from autosft.progress import describe_trial
    from autosft.search.controller import join_study
    from autosft.storage import mask_url

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    url = storage or DEFAULT_STORAGE

    def announce(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        console.print(describe_trial(trial, "value"), highlight=False)

    with sigterm_as_interrupt():
        summary = join_study(url, study_name, manager=plugin_manager(context), device=device, max_trials=max_trials,
                             timeout=timeout, callbacks=[] if quiet else [announce])  # fmt: skip
    if not quiet:
        console.print(f"worker done: ran {len(summary.trial_numbers)} trial(s) of {mask_url(url)}")
    if summary.stopped_reason:
        errors.print(f"[yellow]worker stopped:[/] {summary.stopped_reason}", highlight=False)
        raise typer.Exit(1)


def _open_study(study: Path | None, storage: str | None, study_name: str | None) -> tuple[optuna.Study, str]:
    """The study the selectors name and its storage URL: --storage, else the study file's, else the default."""
    from autosft.config import load_study_file
    from autosft.search.study import load_existing_study
    from autosft.storage import open_storage

    if study is not None:
        config = load_study_file(study)
        storage, study_name = storage or config.storage, study_name or config.name
    url = storage or DEFAULT_STORAGE
    return load_existing_study(open_storage(url, must_exist=True), url, study_name), url


def status(
    context: typer.Context, study: StudyOption = None, storage: StorageOption = None, study_name: NameOption = None
) -> None:
    """Show every trial of a study (state, value, parameters, duration, worker), then each worker's share.

    A RUNNING trial whose worker stopped beating is shown as stale: the next worker to start a
    trial fails it and queues it again with its parameters.
    """
    import datetime

    import optuna

    from autosft.evaluate.selection import SELECTION_ATTR, rerun_tag, selection_table
    from autosft.progress import describe_params
    from autosft.search.monitor import stale_trial_numbers, worker_activity

    loaded, url = _open_study(study, storage, study_name)
    trials = loaded.get_trials(deepcopy=False)
    stale = stale_trial_numbers(loaded, url)
    table = Table(title=f"study {loaded.study_name!r}")
    for column in ("trial", "state", "value", "parameters", "seconds", "worker", "note"):
        table.add_column(column, overflow="fold")
    counts: dict[str, int] = {}
    now = datetime.datetime.now()
    for trial in trials:
        state = "RUNNING (stale)" if trial.number in stale else trial.state.name
        counts[state] = counts.get(state, 0) + 1
        value = "" if trial.values is None else ", ".join(f"{v:.4f}" for v in trial.values)
        seconds = f"{trial.duration.total_seconds():.1f}" if trial.duration else ""
        note = trial.user_attrs.get("fail_reason", "")
        if trial.state == optuna.trial.TrialState.PRUNED:
            note = f"pruned after epoch {trial.last_step}"
        elif trial.number in stale:
            note = "no heartbeat: its worker is gone; the next worker to start a trial re-queues it"
        elif trial.state == optuna.trial.TrialState.RUNNING and trial.datetime_start is not None:
            epochs = len(trial.user_attrs.get("history", []))
            note = f"running for {(now - trial.datetime_start).total_seconds():.0f}s, {epochs} epoch(s) done"
        elif "failed_trial" in trial.system_attrs:
            note = f"retry of trial {trial.system_attrs['failed_trial']}"
        rerun = rerun_tag(trial)
        if rerun is not None:
            note = f"re-run of trial {rerun['of']} with seed {rerun['seed']}" + (f"; {note}" if note else "")
        worker = trial.user_attrs.get("worker", "")
        table.add_row(str(trial.number), state, value, describe_params(trial.params), seconds, worker, note)
    console.print(table)
    workers = Table(title="workers")
    for column in ("worker", "running", "finished", "last seen"):
        workers.add_column(column, overflow="fold")
    for activity in worker_activity(trials):
        running = ", ".join(f"trial {n}" + (" (stale)" if n in stale else "") for n in activity.running) or "idle"
        finished = ", ".join(f"{count} {state.lower()}" for state, count in sorted(activity.finished.items()))
        seen = f"{activity.last_seen:%Y-%m-%d %H:%M:%S}" if activity.last_seen else ""
        workers.add_row(activity.worker, running, finished, seen)
    console.print(workers)
    console.print(", ".join(f"{count} {state.lower()}" for state, count in sorted(counts.items())) or "no trials")
    if loaded.user_attrs.get(SELECTION_ATTR):
        console.print(selection_table(loaded.user_attrs[SELECTION_ATTR]))


def best(
    context: typer.Context,
    study: StudyOption = None,
    storage: StorageOption = None,
    study_name: NameOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Show the selected trial (the seed-robust choice when the study made one, else the best):
    objective value(s), every parameter, every metric, and the test score."""
    from autosft.evaluate.holdout import FINAL_TEST_ATTR, selected_trial
    from autosft.evaluate.selection import SELECTION_ATTR, selection_table

    loaded, _ = _open_study(study, storage, study_name)
    trial = selected_trial(loaded)
    selection = loaded.user_attrs.get(SELECTION_ATTR)
    record: dict[str, Any] = {
        "study": loaded.study_name,
        "trial": trial.number,
        "values": trial.values,
        "params": trial.params,
        "metrics": trial.user_attrs.get("metrics", {}),
        "best_epoch": trial.user_attrs.get("best_epoch"),
        "plan": trial.user_attrs.get("plan", {}),
        "timings": trial.user_attrs.get("timings", {}),
        "final_test": loaded.user_attrs.get(FINAL_TEST_ATTR),
        "selection": selection,
    }
    if as_json:
        print(json.dumps(record, indent=2, default=str))
        return
    if selection:
        console.print(selection_table(selection))
    chosen = "selected trial (best mean over seeds)" if selection and selection["selected_trial"] else "best trial"
    console.print(f"{chosen} {trial.number} of study {loaded.study_name!r}: values {trial.values}")
    console.print_json(json.dumps({key: record[key] for key in ("params", "metrics", "final_test")}, default=str))


def plugins(context: typer.Context) -> None:
    """List plugins with their versions and the components each registers."""
    from importlib.metadata import version

    from autosft.registry import collect_registry

    manager = plugin_manager(context)
    registry = collect_registry(manager)
    versions = {manager.get_name(plugin): dist.version for plugin, dist in manager.list_plugin_distinfo()}
    table = Table(title="autosft plugins")
    for column in ("plugin", "version", "components"):
        table.add_column(column, overflow="fold")
    for name, plugin in manager.list_name_plugin():  # registration order: built-ins first
        if plugin is None:  # blocked through AUTOSFT_DISABLE_PLUGINS
            continue
        parts = [f"{t.plural}: {', '.join(t.by_plugin()[name])}" for t in registry.tables() if name in t.by_plugin()]
        plugin_version = versions.get(name) or (version("autosft") if name.startswith("autosft.") else "")
        table.add_row(name, plugin_version, "; ".join(parts) or "(commands or hooks only)")
    console.print(table)


def validate(context: typer.Context, study_file: StudyFile) -> None:
    """Check a study file as `search` would: keys, components, options, data, model and search space."""
    from autosft.config import load_study_file
    from autosft.search.prepare import prepare_study

    config = load_study_file(study_file)
    prepared = prepare_study(config, plugin_manager(context))
    splits = prepared.splits
    sizes = ", ".join(f"{name} {len(getattr(splits, name))}" for name in ("train", "val", "test"))
    pretrain = f", pretrain {len(splits.pretrain)}" if splits.pretrain is not None else ""
    objectives = ", ".join(f"{o.metric} ({d})" for o, d in zip(config.objectives, prepared.directions, strict=True))
    names = splits.class_names
    classes = ", ".join(names) if len(names) <= 20 else f"{len(names)} ({', '.join(names[:5])}, …)"  # ranking: items
    console.print(f"{study_file}: valid. rows: {sizes}{pretrain}; classes: {classes}; "
                  f"objective: {objectives}")  # fmt: skip
    console.print(f"search space: {', '.join(dimension.name for dimension in prepared.space)}")


def check_data(
    context: typer.Context,
    study_file: StudyFile,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the report as JSON to FILE.")] = None,
    drop_repeats: DropRepeatsOption = False,
) -> None:
    """Check a study's data: leakage across splits, duplicates, missing values, label conflicts,
    single-class splits, class balance and likely label errors. Exit 1 on errors, 0 otherwise."""
    from autosft.config import load_study_file
    from autosft.evaluate.datacheck import check_splits, render
    from autosft.registry import collect_registry
    from autosft.search.prepare import load_splits

    config = _dropping_repeats(load_study_file(study_file), drop_repeats)
    report = check_splits(load_splits(config, collect_registry(plugin_manager(context))), seed=config.seed)
    for table in render(report):
        console.print(table)
    if out is not None:
        report.write(out)
    console.print(f"{study_file}: {len(report.errors)} error(s), {len(report.warnings)} warning(s)"
                  + (f"; report written to {out}" if out is not None else ""))  # fmt: skip
    if report.errors:
        raise typer.Exit(1)


def export(
    context: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Folder to write the export to.", show_default=False)],
    storage: StorageOption = None,
    study_name: NameOption = None,
    refit: Annotated[
        str, typer.Option("--refit", help="train: as the trial ran; train+val: add validation rows, fixed epochs.")
    ] = "train",
    merge_lora: Annotated[bool, typer.Option("--merge-lora", help="Also write LoRA merged into the weights.")] = False,
    onnx: Annotated[bool, typer.Option("--onnx", help="Also write model.onnx, checked against torch on test.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an earlier export in --out.")] = False,
    resamples: Annotated[int, typer.Option("--resamples", min=10, help="Bootstrap resamples of the test CIs.")] = 1000,
    device: Annotated[str | None, typer.Option("--device", help="cpu, cuda or cuda:N [default: auto]")] = None,
) -> None:
    """Retrain the selected trial, score it once on test with 95 % CIs, and write model, config and run card."""
    from autosft.evaluate.refit import REFIT_MODES
    from autosft.export import export_study

    if refit not in REFIT_MODES:
        raise ConfigError(f"--refit must be one of {', '.join(REFIT_MODES)}, but got {refit!r}")
    outcome = export_study(
        storage or DEFAULT_STORAGE, study_name, out, refit_mode=refit, merge_lora=merge_lora, onnx=onnx,  # type: ignore[arg-type]
        force=force, resamples=resamples, device=device, manager=plugin_manager(context),
    )  # fmt: skip
    console.print(f"exported trial {outcome.trial} to {outcome.folder} in {outcome.seconds:.1f}s; test split, 95 % CI:")
    width = max(map(len, outcome.test_metrics))
    for name, interval in outcome.test_metrics.items():
        console.print(f"  {name:<{width}}  {_interval(interval)}", highlight=False)
    if outcome.retained is not None:
        change = ", ".join(f"{name} {value:+.4f}" for name, value in outcome.retained["change"].items())
        dataset = outcome.retained["dataset"]
        console.print(f"reference {dataset!r}, fine-tuned vs pre-trained: {change}", highlight=False)
    if outcome.onnx is not None:
        size, difference, latency = (outcome.onnx[key] for key in ("size_bytes", "max_abs_difference",
                                                                   "cpu_latency_ms_per_row"))  # fmt: skip
        console.print(f"model.onnx: {size / 1e3:.0f} kB, max abs difference to torch {difference:.2g}, "
                      f"{latency:.4f} ms per row on CPU", highlight=False)  # fmt: skip


def _interval(interval: dict[str, Any]) -> str:
    value, low, high = interval["value"], interval["low"], interval["high"]
    if value != value:  # NaN: undefined on this split
        return "undefined"
    return f"{value:.4f}" + ("" if low != low else f"  [{low:.4f}, {high:.4f}]")


def report(
    context: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.", show_default=False)],
    storage: StorageOption = None,
    study_name: NameOption = None,
    export_dir: Annotated[
        Path | None, typer.Option("--export", help="An `autosft export` folder: adds the test-set plots.")
    ] = None,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="Write the Markdown summary here instead of printing it.")
    ] = None,
) -> None:
    """Write a self-contained HTML report of a study (plots work offline) and a Markdown summary."""
    from autosft.report import write_report

    written = write_report(storage or DEFAULT_STORAGE, study_name, out, export_dir=export_dir)
    if markdown is None:
        print(written.markdown)
    else:
        markdown.write_text(written.markdown)
    errors.print(f"report: {out} ({written.html_bytes / 2**20:.1f} MB, {written.figures} plots)", highlight=False)


def schema(context: typer.Context) -> None:
    """Print the JSON Schema of study files (for editors and CI checks)."""
    from autosft.config import StudyConfig

    print(json.dumps(StudyConfig.model_json_schema(), indent=2))


COMMANDS: dict[str, Callable[..., None]] = {
    "search": search,
    "worker": worker,
    "status": status,
    "best": best,
    "plugins": plugins,
    "validate": validate,
    "check-data": check_data,
    "export": export,
    "report": report,
    "schema": schema,
}
