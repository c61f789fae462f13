"""The command line as a user meets it: fast help, one-line errors with exit 2, search/status/best,
and Ctrl-C during a search."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import weakref
from pathlib import Path

import optuna
import pytest
import yaml
from typer.testing import CliRunner

from autosft.cli import build_app, sigterm_as_interrupt
from autosft.testing import toy_manager, toy_study
from autosft.views import describe_params
from tests.conftest import TOY_CLI, run_toy_cli


def _write_study(folder: Path, **overrides) -> Path:
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(toy_study(f"sqlite:///{folder / 'study.db'}", **overrides)))
    return path


def _invoke(*args: str):
    return CliRunner().invoke(build_app(toy_manager()), list(args))


def test_help_does_not_import_torch_or_optuna() -> None:
    code = (
        "import sys\nfrom autosft.cli import main\nsys.argv = ['autosft', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('torch', 'optuna', 'sklearn', 'transformers', 'plotly')\n"
        "print('HEAVY', sorted(m for m in heavy if m in sys.modules))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in output
    assert "search" in output and "validate" in output


def test_search_status_best_round_trip(tmp_path: Path) -> None:
    study = _write_study(tmp_path, budget={"n_trials": 3, "max_epochs": 2})
    searched = _invoke("search", str(study), "--n-trials", "2")
    assert searched.exit_code == 0, searched.output
    assert "best trial" in searched.output and "held-out test: " in searched.output
    status = _invoke("status", "--study", str(study))
    assert status.exit_code == 0 and "COMPLETE" in status.output
    best = _invoke("best", "--study", str(study), "--json")
    record = json.loads(best.stdout)
    assert record["study"] == "toy" and "roc_auc" in record["metrics"]
    assert record["final_test"]["test_rows"] == 150
    assert "learning_rate" in record["params"] or "lora_learning_rate" in record["params"]


def test_export_and_report_take_the_study_file(tmp_path: Path) -> None:
    study = _write_study(tmp_path, budget={"n_trials": 1, "max_epochs": 1})
    assert _invoke("search", str(study), "--no-final-test").exit_code == 0
    report = _invoke("report", "--study", str(study), "--out", str(tmp_path / "r.html"))
    assert report.exit_code == 0, report.output
    assert (tmp_path / "r.html").is_file()
    exported = _invoke("export", "--study", str(study), "--out", str(tmp_path / "export"), "--resamples", "20")
    assert exported.exit_code == 0, exported.output
    assert "exported trial 0" in exported.stdout


def test_resuming_on_changed_data_is_refused_unless_allowed(tmp_path: Path) -> None:
    study = _write_study(tmp_path, budget={"n_trials": 1, "max_epochs": 1})
    assert _invoke("search", str(study), "--no-final-test").exit_code == 0
    changed = _write_study(tmp_path, budget={"n_trials": 1, "max_epochs": 1},
                           dataset={"name": "toy_blobs", "options": {"rows": 400}})  # fmt: skip
    refused = _invoke("search", str(changed), "--no-final-test")
    assert refused.exit_code == 2, refused.output
    assert (
        "the data of study 'toy' changed since its trials ran" in refused.stderr
        and "--allow-data-change" in refused.stderr
    )
    assert len(refused.stderr.strip().splitlines()) == 1
    url = f"sqlite:///{tmp_path / 'study.db'}"
    assert len(optuna.load_study(study_name="toy", storage=url).trials) == 1  # the refused run added nothing
    allowed = _invoke("search", str(changed), "--no-final-test", "--allow-data-change")
    assert allowed.exit_code == 0, allowed.output
    attrs = optuna.load_study(study_name="toy", storage=url).user_attrs
    (change,) = attrs["autosft_data_changes"]
    assert change["to"] == attrs["autosft_data_fingerprint"] != change["from"]
    # A worker reads the data its stored study file names: as if that file had changed on disk since.
    optuna.load_study(study_name="toy", storage=url).set_user_attr("autosft_data_fingerprint", "0" * 24)
    worker = _invoke("worker", "--storage", url, "--study-name", "toy")
    assert worker.exit_code == 2 and "changed since its trials ran" in worker.stderr
    assert _invoke("worker", "--storage", url, "--study-name", "toy", "--allow-data-change").exit_code == 0


def test_validate_reports_the_data(tmp_path: Path) -> None:
    result = _invoke("validate", str(_write_study(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "valid. rows: train 300, val 150, test 150" in result.output


BAD_INPUTS = [
    ({"colour": "blue"}, [], "colour: Extra inputs are not permitted"),
    (
        {"dataset": {"name": "toy_blob"}},
        [],
        "unknown dataset 'toy_blob' (did you mean 'toy_blobs'?); valid names: image_folder, image_manifest, image_npz, "
        "text_table, toy_blobs",
    ),
    (
        {"model": {"name": "toy_mlp", "options": {"hiden": 8}}},
        [],
        "model 'toy_mlp' options: unknown option 'hiden' (did you mean 'hidden'?); valid options: blocks, hidden",
    ),
    ({"model": {"name": "toy_mlp", "options": {"hidden": "wide"}}}, [], "model 'toy_mlp' options: hidden"),
    (
        {"objective": {"metric": "auc"}},
        [],
        "unknown metric 'auc' (did you mean 'pr_auc'?); metrics of binary tasks: accuracy, balanced_accuracy, f1, "
        "f1_macro, f1_micro, log_loss, pr_auc, roc_auc\n",
    ),
    ({"search_space": {"imbalance": {"choices": ["smote"]}}}, [], "unknown choice(s) ['smote']"),
    ({}, ["--storage", "notaurl"], "storage 'notaurl' has no scheme; valid schemes:"),
    ({}, ["--storage", "postgresql+psycopg://user:hunter2@127.0.0.1:1/x"], "cannot open storage"),
    ({}, ["--n-trials", "0"], "budget.n_trials: Input should be greater than or equal to 1"),
    ({}, ["--devices", "banana"], "--devices takes auto, cpu or cuda:N"),
    ({}, ["--devices", "cuda:7"], "device 'cuda:7': no CUDA device is visible"),
    ({}, ["--devices", "cpu,cuda:7", "--workers", "2"], "device 'cuda:7': no CUDA device is visible"),
    ({"warm_start": {"studies": ["dec"]}}, [], "warm_start: no study 'dec' in sqlite:///"),
    ({}, ["--warm-start", "dec"], "warm_start: no study 'dec' in sqlite:///"),
]


@pytest.mark.parametrize(("change", "flags", "message"), BAD_INPUTS)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, change: dict, flags: list[str], message: str) -> None:
    result = _invoke("search", str(_write_study(tmp_path, **change)), *flags)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "hunter2" not in result.output + result.stderr
    assert "Traceback" not in result.output + result.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"search_space": {"dropout": {"value": 1.5}}}, "`0 <= value < 1` must hold for dropout"),
        ({"sampler": {"name": "tpe", "options": {"n_startup": 3}}}, "sampler 'tpe' rejects its options"),
        ({"pruner": {"name": "median", "options": {"warmup": 1}}}, "pruner 'median' rejects its options"),
    ],
)
def test_validate_refuses_what_search_would(tmp_path: Path, change: dict, message: str) -> None:
    result = _invoke("validate", str(_write_study(tmp_path, **change)))
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_search_stopped_by_failures_exits_non_zero_with_their_reason(tmp_path: Path) -> None:
    space = {"learning_rate": {"value": 1e30}, "adaptation": {"value": "full"}, "batch_size": {"value": 16}}
    study = _write_study(tmp_path, search_space=space, budget={"n_trials": 8, "max_epochs": 2})
    result = _invoke("search", str(study))
    assert result.exit_code == 1, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert "search stopped early: 5 trials failed in a row; the last said: training loss became" in last


USAGE_ERRORS = [
    (["serch"], "No such command 'serch'", "autosft --help"),
    (["search"], "Missing argument", "autosft search --help"),
    (["search", "{study}", "--colour"], "No such option: --colour", "autosft search --help"),
    (["search", "{study}", "--n-trials", "abc"], "Invalid value for '--n-trials'", "autosft search --help"),
    (["search", "{study}", "--timeout", "-1"], "Invalid value for '--timeout'", "autosft search --help"),
    (["search", "{study}", "--seed", "4294967296"], "less than or equal to 4294967295", "autosft search --help"),
    (["worker", "--max-trials", "0"], "Invalid value for '--max-trials'", "autosft worker --help"),
]


@pytest.mark.parametrize(("args", "message", "hint"), USAGE_ERRORS)
def test_usage_errors_are_one_line_with_a_hint(tmp_path: Path, args: list[str], message: str, hint: str) -> None:
    study = str(_write_study(tmp_path))
    result = _invoke(*(arg.format(study=study) for arg in args))
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0] and f"(see `{hint}`)" in lines[0]


def test_brackets_in_messages_are_text_not_markup(tmp_path: Path) -> None:
    missing = _invoke("validate", str(tmp_path / "run[red]2.yaml"))
    assert missing.exit_code == 2 and "run[red]2.yaml' does not exist" in missing.stderr
    _invoke("search", str(_write_study(tmp_path, budget={"n_trials": 1, "max_epochs": 1})), "--no-final-test")
    other = _invoke("status", "--storage", f"sqlite:///{tmp_path / 'study.db'}", "--study-name", "autosft[postgres]")
    assert other.exit_code == 2 and "no study 'autosft[postgres]'" in other.stderr


def test_missing_study_file_and_missing_study(tmp_path: Path) -> None:
    missing = _invoke("validate", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    absent_db = f"sqlite:///{tmp_path / 'absent.db'}"
    status = _invoke("status", "--storage", absent_db)
    assert status.exit_code == 2 and "there is no study database" in status.stderr
    assert not (tmp_path / "absent.db").exists()
    study = _write_study(tmp_path, budget={"n_trials": 1, "max_epochs": 1})
    assert _invoke("search", str(study), "--no-final-test").exit_code == 0
    other = _invoke("best", "--storage", f"sqlite:///{tmp_path / 'study.db'}", "--study-name", "nope")
    assert other.exit_code == 2 and "no study 'nope' in" in other.stderr and "studies there: toy" in other.stderr


def test_a_study_file_that_is_not_text_is_one_line(tmp_path: Path) -> None:
    binary = tmp_path / "study.yaml"
    binary.write_bytes(bytes(range(256)))
    result = _invoke("validate", str(binary))
    assert result.exit_code == 2 and "is not UTF-8 text" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("where", ["missing/report.html", "."], ids=["missing-folder", "onto-a-folder"])
def test_output_files_that_cannot_be_written_are_refused_first(tmp_path: Path, where: str) -> None:
    study = _write_study(tmp_path)
    target = str(tmp_path / where)
    commands = [
        ["check-data", str(study), "--out", target],
        ["report", "--study", str(study), "--out", target],
        ["report", "--study", str(study), "--out", str(tmp_path / "r.html"), "--markdown", target],
    ]
    for args in commands:
        result = _invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert ("is a folder" if where == "." else "does not exist") in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_schema_is_json() -> None:
    result = _invoke("schema")
    assert json.loads(result.stdout)["title"] == "StudyConfig"


def _default_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _search_until_a_trial_runs(
    study_file: Path, command: list[str] | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start `autosft search` in its own process and return once a trial of it is RUNNING.

    The process starts with Ctrl-C's default action, as a command typed at a terminal does: a suite
    run in the background of a script (`pytest &`) inherits SIGINT ignored, as POSIX shells set it
    for background jobs, and Python then never turns SIGINT into KeyboardInterrupt.
    """
    folder = study_file.parent
    process = subprocess.Popen([*(command or [sys.executable, "-c", TOY_CLI]), "search", str(study_file)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder,
                               env={**os.environ, **(env or {})}, preexec_fn=_default_ctrl_c)  # fmt: skip
    deadline = time.monotonic() + 300  # for a hung start only: a loaded machine starts slowly
    while not _running(folder / "study.db"):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail(f"no trial started running: {process.communicate()[1][-2000:]}")
        time.sleep(0.3)
    return process


LONG_TRIALS = {"batch_size": {"value": 16}, "epochs": {"value": 30}, "patience": {"value": 30}}


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupting_marks_the_running_trial_and_keeps_the_study(tmp_path: Path, stop: signal.Signals) -> None:
    study_file = _write_study(
        tmp_path,
        dataset={"name": "toy_blobs", "options": {"rows": 20000}},
        budget={"n_trials": 50, "max_epochs": 30},
        search_space=LONG_TRIALS,
    )
    process = _search_until_a_trial_runs(study_file)
    try:
        time.sleep(1.0)
        process.send_signal(stop)
        # A deadline for a hung process only, not a speed bound: on a loaded machine the exit is slower.
        _, stderr = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 130
    assert "interrupted" in stderr and "Traceback" not in stderr
    study = optuna.load_study(study_name="toy", storage=f"sqlite:///{tmp_path / 'study.db'}")
    interrupted, queued = study.trials[-2:]
    assert interrupted.state.name == "FAIL"
    assert interrupted.user_attrs["fail_reason"] == "interrupted (Ctrl-C)"
    # The interrupted configuration waits in the queue and runs first when the study resumes.
    assert queued.state.name == "WAITING" and queued.params == interrupted.params
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    status = run_toy_cli("status", "--study", str(study_file), cwd=tmp_path)
    assert status.returncode == 0 and "FAIL" in status.stdout and "WAITING" in status.stdout


#: The console script's entry point, with the toy plugin and no installed ones, in a fresh process.
MAIN = "from autosft.cli import main; main()"
MAIN_ENV = {"AUTOSFT_PLUGINS": "autosft.testing:ToyPlugin", "AUTOSFT_DISABLE_PLUGINS": "*", "COLUMNS": "200"}


def test_sigterm_while_starting_is_one_line_and_exit_130(tmp_path: Path) -> None:
    # -X importtime reports each import as it finishes: the built-in plugins are imported inside
    # main(), so once they are reported the signal lands while the toy plugin (torch) still loads.
    process = subprocess.Popen([sys.executable, "-X", "importtime", "-c", MAIN, "plugins"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **MAIN_ENV})  # fmt: skip
    assert process.stderr is not None
    for line in process.stderr:
        if "autosft.default_plugins" in line:
            break
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    said = [line for line in stderr.splitlines() if not line.startswith("import time:")]
    assert process.returncode == 130, stderr[-2000:]
    assert said == ["interrupted while starting"]


def test_ctrl_c_mid_trial_exits_130_within_seconds(tmp_path: Path) -> None:
    study_file = _write_study(
        tmp_path,
        dataset={"name": "toy_blobs", "options": {"rows": 20000}},
        budget={"n_trials": 50, "max_epochs": 30},
        search_space=LONG_TRIALS,
    )
    process = _search_until_a_trial_runs(study_file, [sys.executable, "-c", MAIN], env=MAIN_ENV)
    try:
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        _, stderr = process.communicate(timeout=120)
        took = time.monotonic() - signalled
    finally:
        process.kill()
    assert process.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1].startswith("interrupted: ")
    assert took < 5, f"{took:.1f}s from the signal to the exit"


def test_a_ctrl_c_that_lands_in_a_finalizer_is_raised_again() -> None:
    """Python drops an exception raised in a weak-reference callback (SQLAlchemy runs them inside
    queries); a Ctrl-C landing there must still stop the command."""

    class Tracked:
        pass

    def landed_here(reference: object) -> None:
        raise KeyboardInterrupt

    tracked = Tracked()
    reference = weakref.ref(tracked, landed_here)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt():
        del tracked
        while time.monotonic() - started < 60:
            time.sleep(0.01)
    assert reference() is None and time.monotonic() - started < 30


def test_a_killed_worker_loses_nothing_and_its_trial_is_retried(tmp_path: Path) -> None:
    study_file = _write_study(
        tmp_path,
        # Long enough to be killed mid-trial, short enough that the retry ends soon on a loaded machine.
        dataset={"name": "toy_blobs", "options": {"rows": 1000}},
        budget={"n_trials": 5, "max_epochs": 30},
        search_space=LONG_TRIALS,
        heartbeat={"interval": 1, "grace_period": 2, "max_retries": 2},
    )
    worker = _search_until_a_trial_runs(study_file)
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=120)
    time.sleep(3)  # past the grace period: the killed trial's heartbeat is stale (a lower bound, load only adds)
    before = run_toy_cli("status", "--study", str(study_file), cwd=tmp_path)
    assert before.returncode == 0, before.stderr
    assert "RUNNING (stale)" in before.stdout and "no heartbeat: its worker is gone" in before.stdout
    assert "trial 0 (stale)" in before.stdout  # the workers table: what the dead worker was running

    resumed = run_toy_cli("search", str(study_file), "--n-trials", "1", "--no-final-test", cwd=tmp_path, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    trials = optuna.load_study(study_name="toy", storage=f"sqlite:///{tmp_path / 'study.db'}").trials
    killed, retried = trials[0], trials[1]
    assert killed.state.name == "FAIL"
    assert retried.state.name == "COMPLETE"
    assert retried.params == killed.params
    assert retried.system_attrs["failed_trial"] == killed.number
    assert not [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
    status = run_toy_cli("status", "--study", str(study_file), cwd=tmp_path)
    assert f"retry of trial {killed.number}" in status.stdout and "on cpu" in status.stdout


def test_warm_start_says_what_it_queued_and_status_where_each_came_from(tmp_path: Path) -> None:
    earlier = _write_study(tmp_path, name="jan", budget={"n_trials": 3, "max_epochs": 2})
    assert _invoke("search", str(earlier), "--no-final-test").exit_code == 0
    later = _write_study(tmp_path, name="feb", seed=1, budget={"n_trials": 2, "max_epochs": 2})
    searched = _invoke("search", str(later), "--no-final-test", "--warm-start", "jan")
    assert searched.exit_code == 0, searched.output
    notice = [line for line in searched.stderr.splitlines() if line.startswith("warm start:")]
    assert len(notice) == 1 and "queued after the starting trials: study 'jan' trial(s) " in notice[0]
    status = _invoke("status", "--study", str(later))
    from_jan = optuna.load_study(study_name="feb", storage=f"sqlite:///{tmp_path / 'study.db'}").trials[1]
    assert f"warm start: trial {from_jan.user_attrs['autosft_warm_start']['trial']} of study 'jan'" in status.output


def test_status_reads_at_80_columns_and_a_queued_retry_names_no_worker(tmp_path: Path) -> None:
    study_file = _write_study(tmp_path, budget={"n_trials": 2, "max_epochs": 1})
    assert _invoke("search", str(study_file), "--no-final-test").exit_code == 0
    study = optuna.load_study(study_name="toy", storage=f"sqlite:///{tmp_path / 'study.db'}")
    done = study.trials[-1]
    # A retry as the heartbeat's stale-trial callback queues it: parameters and user attributes copied.
    study.enqueue_trial(done.params, user_attrs=dict(done.user_attrs))
    narrow = subprocess.run([sys.executable, "-c", TOY_CLI, "status", "--study", str(study_file)],
                            cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"},
                            timeout=300)  # fmt: skip
    assert narrow.returncode == 0, narrow.stderr
    assert max(map(len, narrow.stdout.splitlines())) <= 80
    flat = " ".join(narrow.stdout.split())  # wrapped between words, never inside one
    for trial in study.trials:
        shown = f"trial {trial.number}: {describe_params(trial.params)}"
        assert shown in flat, narrow.stdout
        queued = trial.state == optuna.trial.TrialState.WAITING
        assert (f"{shown} (" in flat) != queued  # the worker that ran it, for all but the queued retry
    assert flat.count("1 waiting") == 1  # in the totals, not in the dead worker's row of the workers table


def _running(database: Path) -> bool:
    """Whether a trial runs, read with plain sqlite3 in read-only mode: opening the file through
    Optuna would create its tables and race the searching process that is creating them."""
    if not database.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as connection:
            running = connection.execute(
                "SELECT count(*) FROM trials JOIN trial_user_attributes AS attrs ON attrs.trial_id = trials.trial_id "
                "WHERE trials.state = 'RUNNING' AND attrs.key = 'plan'"  # sampled, and training
            )
            return bool(running.fetchone()[0])
    except sqlite3.OperationalError:  # tables not created yet, or a writer holds the lock
        return False
