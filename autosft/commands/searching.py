"""`search` and `worker`: the commands that run trials."""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from autosft.cli_support import console, errors, plugin_manager, sigterm_as_interrupt
from autosft.commands.options import (
    AllowDataChange,
    DropRepeatsOption,
    NameOption,
    StorageOption,
    StudyFile,
    with_drop_repeats,
)
from autosft.config import DEFAULT_STORAGE, MAX_SEED
from autosft.views import print_slices, print_verdict

if TYPE_CHECKING:
    import optuna

    from autosft.config import StudyConfig
    from autosft.evaluate.datacheck import DataReport
    from autosft.progress import SearchProgress
    from autosft.search.controller import SearchOutcome
    from autosft.search.prepare import PreparedStudy

__all__ = ["search", "worker"]


WorkersOption = Annotated[
    int | None,
    typer.Option("--workers", help="Worker processes sharing the study [default: one per device]."),
]


RecycleAfterOption = Annotated[
    int | None,
    typer.Option(
        "--recycle-after",
        help="Replace each worker process after N trials; 0 = never "
        "[default: GPU workers after every trial, CPU workers never].",
    ),
]


SkipDataCheckOption = Annotated[
    bool, typer.Option("--skip-data-check", help="Search even when `autosft check-data` finds errors.")
]


WarmStartOption = Annotated[
    list[str] | None,
    typer.Option(
        "--warm-start",
        help="A new study tries this earlier study's best configurations first "
        "(repeatable; replaces warm_start.studies).",
        show_default=False,
    ),
]


def search(
    context: typer.Context,
    study_file: StudyFile,
    storage: StorageOption = None,
    study_name: NameOption = None,
    n_trials: Annotated[int | None, typer.Option("--n-trials", help="Trials to add in this run.")] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0, help="Stop starting trials after SECONDS.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", min=0, max=MAX_SEED, help="Seed of sampler, splits and trials.")
    ] = None,
    final_test: Annotated[
        bool, typer.Option("--final-test/--no-final-test", help="Retrain the best trial and score the test split.")
    ] = True,
    devices: Annotated[
        str | None, typer.Option("--devices", help="auto, cpu, or cuda:0,cuda:1,... [default: auto]")
    ] = None,
    workers: WorkersOption = None,
    recycle_after: RecycleAfterOption = None,
    skip_data_check: SkipDataCheckOption = False,
    allow_data_change: AllowDataChange = False,
    drop_repeats: DropRepeatsOption = False,
    warm_start: WarmStartOption = None,
) -> None:
    """Search fine-tuning configurations; re-running resumes the study and adds trials."""
    from autosft.config import load_study_file, with_overrides
    from autosft.progress import SearchProgress
    from autosft.search.controller import run_search

    config = with_overrides(load_study_file(study_file), storage=storage, study_name=study_name,
                            n_trials=n_trials, timeout=timeout, seed=seed, warm_start=warm_start)  # fmt: skip
    config = with_drop_repeats(config, drop_repeats)
    import optuna

    # The progress display reports every trial, failures with their reason; Optuna's own
    # per-trial log lines (with tracebacks for failures) would only repeat it.
    optuna.logging.set_verbosity(optuna.logging.ERROR)

    with sigterm_as_interrupt(), SearchProgress(config.budget.n_trials, errors) as progress:
        outcome = run_search(config, manager=plugin_manager(context), callbacks=[progress], final_test=final_test,
                             devices=devices, workers=workers, recycle_after=recycle_after,
                             on_prepared=functools.partial(_started, progress), check_data=not skip_data_check,
                             on_data_checked=_warn, allow_data_change=allow_data_change,
                             on_notice=_warm_start_notice)  # fmt: skip
    _print_outcome(outcome, config, final_test=final_test, workers=workers)
    if outcome.stopped_reason:
        # After the summary, so the reason is the last thing said; non-zero, so a script sees it.
        errors.print(f"[yellow]search stopped early:[/] {escape(outcome.stopped_reason)}", highlight=False)
        raise typer.Exit(1)


def _print_outcome(outcome: SearchOutcome, config: StudyConfig, *, final_test: bool, workers: int | None) -> None:
    """What a finished `search` says: the study's trials, then the selected trial and its test score."""
    from autosft.storage import mask_url
    from autosft.views import describe_params, selection_table

    study = outcome.study
    added = ", ".join(f"{count} {state.lower()}" for state, count in sorted(outcome.states.items()))
    console.print(f"study {study.study_name!r} in {mask_url(config.storage)}: {len(study.trials)} trials ({added})")
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
    chosen = (
        "selected (best mean over seeds)"
        if outcome.selection and outcome.selection["selected_trial"] is not None
        else "best"
    )
    console.print(f"{chosen} trial {best.number}: validation {metric_names} = "
                  f"{', '.join(f'{v:.4f}' for v in best.values)}")  # fmt: skip
    console.print(f"  {describe_params(best.params)}")
    console.print_json(json.dumps(best.params))
    test = outcome.final_test["test_metrics"]
    console.print(
        "held-out test: " + ", ".join(f"{name}={value:.4f}" for name, value in test.items() if value is not None)
    )
    print_verdict(console, study)
    print_slices(console, outcome.final_test.get("slices"))
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
    allow_data_change: AllowDataChange = False,
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
        console.print(describe_trial(trial, "value"), highlight=False, markup=True)

    with sigterm_as_interrupt():
        summary = join_study(url, study_name, manager=plugin_manager(context), device=device, max_trials=max_trials,
                             timeout=timeout, callbacks=[] if quiet else [announce],
                             allow_data_change=allow_data_change)  # fmt: skip
    if not quiet:
        console.print(f"worker done: ran {len(summary.trial_numbers)} trial(s) of {mask_url(url)}")
    if summary.stopped_reason:
        errors.print(f"[yellow]worker stopped:[/] {escape(summary.stopped_reason)}", highlight=False)
        raise typer.Exit(1)


def _started(progress: SearchProgress, prepared: PreparedStudy, study: optuna.Study) -> None:
    """Once the study is prepared: recommend cross-validation in one line when validation is small and
    no folds are set, then show the progress bar."""
    from autosft.evaluate.folds import small_validation_notice

    notice = small_validation_notice(prepared.config, prepared.splits)
    if notice is not None:
        errors.print(f"[dim]validation:[/] {escape(notice)}", highlight=False)
    progress.started(prepared, study)


def _warm_start_notice(message: str) -> None:
    errors.print(f"[dim]warm start:[/] {escape(message)}", highlight=False)


def _warn(report: DataReport) -> None:
    """Print the data check's warnings, once the search is sure to start."""
    for finding in report.warnings:
        errors.print(f"[yellow]data warning:[/] {escape(f'{finding.check}: {finding.message}')}", highlight=False)
    for finding in report.notices:
        errors.print(f"[dim]data check:[/] {escape(finding.message)}", highlight=False)
