"""`autosft report`: a self-contained HTML file with the study's and the exported model's plots, a
Markdown summary, and a real render in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import optuna
import pytest
from plotly.offline import get_plotlyjs
from typer.testing import CliRunner

from autosft.cli import build_app
from autosft.config import parse_study
from autosft.export import export_study
from autosft.report import write_report
from autosft.search.controller import run_search
from autosft.testing import toy_manager, toy_study

CHROMIUM = "/usr/bin/chromium"
STUDY_PLOTS = ("Optimization history", "Trials by state", "Learning curves of the top 5 trials",
               "Hyperparameter importances", "Parallel coordinates", "Slice plots")  # fmt: skip
MODEL_PLOTS = ("Confusion matrix", "Per-class precision, recall and F1", "ROC curves", "Precision-recall curves",
               "Calibration")  # fmt: skip


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{folder / 'study.db'}"
    space = {"adaptation": {"choices": ["full", "freeze"]}}
    config = parse_study(toy_study(url, budget={"n_trials": 5, "max_epochs": 3}, search_space=space), where="test")
    run_search(config, manager=toy_manager(), final_test=False)
    export_study(url, "toy", folder / "export", resamples=50, manager=toy_manager())
    return url, folder


def _invoke(*args: str):
    return CliRunner().invoke(build_app(toy_manager()), list(args))


def test_the_html_is_self_contained_and_holds_every_plot(exported: tuple[str, Path]) -> None:
    url, folder = exported
    written = write_report(url, "toy", folder / "report.html", export_dir=folder / "export")
    page = written.path.read_text()
    assert not re.search(r"<script[^>]+src=", page) and not re.search(r"<link[^>]+href=", page)
    assert get_plotlyjs() in page  # inlined; its own strings name URLs (logo link, map tiles) it never loads here
    ours = page.replace(get_plotlyjs(), "")
    assert not re.search(r"""(src|href|url)[=(]["']?(https?:)?//""", ours)  # nothing fetched from a network
    assert page.count("Plotly.newPlot(") == written.figures == len(STUDY_PLOTS) + len(MODEL_PLOTS)
    for title in STUDY_PLOTS + MODEL_PLOTS:
        assert f"<h3>{title}" in page, title
    assert "95 % CI (bootstrap)" in page
    assert 3_000_000 < written.html_bytes < 12_000_000  # plotly.js itself is most of it


def test_markdown_summary_names_the_selection_and_test_intervals(exported: tuple[str, Path]) -> None:
    url, folder = exported
    result = _invoke("report", "--storage", url, "--study-name", "toy", "--out", str(folder / "cli.html"),
                     "--export", str(folder / "export"), "--markdown", str(folder / "summary.md"))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (folder / "cli.html").is_file()
    summary = (folder / "summary.md").read_text()
    selected = int(re.search(r"selected trial\*\*: (\d+)", summary).group(1))
    assert selected == optuna.load_study(study_name="toy", storage=url).best_trial.number
    assert "| roc_auc | " in summary and "95 % CI" in summary
    assert re.search(r"\| roc_auc \| 0\.\d+ \| \[0\.\d+, [01]\.\d+\] \|", summary)
    printed = _invoke("report", "--storage", url, "--study-name", "toy", "--out", str(folder / "again.html"))
    assert printed.exit_code == 0 and printed.stdout.startswith("# autosft study toy")


def test_multi_objective_study_shows_the_pareto_front(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    objectives = [{"metric": "roc_auc"}, {"metric": "log_loss"}]
    config = parse_study(toy_study(url, objective=objectives, pruner={"name": "none"},
                                   budget={"n_trials": 3, "max_epochs": 2}), where="test")  # fmt: skip
    run_search(config, manager=toy_manager(), final_test=False)
    written = write_report(url, "toy", tmp_path / "report.html")
    page = written.path.read_text()
    assert "<h3>Pareto front" in page and "log_loss (minimize)" in page
    assert "Confusion matrix" not in page  # no export given


def test_a_plain_optuna_study_is_reported(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    study = optuna.create_study(study_name="plain", storage=url, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda trial: (trial.suggest_float("x", -3, 3) - 1) ** 2 + trial.suggest_int("k", 0, 4), 12)
    written = write_report(url, "plain", tmp_path / "plain.html")
    assert "objective 0 (minimize)" in written.markdown and written.figures >= 5


def test_bad_report_input_is_one_line(exported: tuple[str, Path], tmp_path: Path) -> None:
    url = exported[0]
    other = _invoke("report", "--storage", url, "--study-name", "toy", "--out", str(tmp_path / "no" / "r.html"))
    assert other.exit_code == 2 and "does not exist" in other.stderr
    not_export = _invoke("report", "--storage", url, "--study-name", "toy", "--out", str(tmp_path / "r.html"),
                         "--export", str(tmp_path))  # fmt: skip
    assert not_export.exit_code == 2 and "is not an autosft export folder" in not_export.stderr
    assert len(not_export.stderr.strip().splitlines()) == 1


def _chromium_or_skip() -> str:
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} must be installed in CI (.ci/run installs Debian's chromium)")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")


def test_the_report_renders_its_plots_in_headless_chromium(exported: tuple[str, Path], tmp_path: Path) -> None:
    from PIL import Image

    chromium = _chromium_or_skip()
    url, folder = exported
    page = write_report(url, "toy", tmp_path / "report.html", export_dir=folder / "export").path
    shot = tmp_path / "report.png"
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1400,3000",
               "--virtual-time-budget=10000", page.resolve().as_uri()]  # fmt: skip
    subprocess.run(command, capture_output=True, timeout=180, check=True)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 3000)
    plots = image.crop((0, 1300, 1400, 3000))  # below the summary tables: the search's plots
    colours = plots.getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 500, "the plot area holds too few colours: plots did not draw"
    # plotly's light-blue plot background covers a good share of the plot area once figures are drawn
    plot_background = sum(count for count, rgb in colours if rgb == (229, 236, 246))
    assert plot_background > 0.05 * plots.width * plots.height
    shutil.copy(shot, folder / "report.png")  # kept beside the module's files for a look when debugging
