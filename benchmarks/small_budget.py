"""Does the search pay off at the budgets people use? Test scores at 8 and 20 trials, three ways.

For each shared dataset (its study file in ``studies/``), split seed and budget, three runs on the same
splits, each scored once on test by the selected configuration refitted as ``autosft export`` does
(on train, best epoch restored):

- ``default``: the default configuration alone (one trial);
- ``search``: the search as it was before portfolios (``search: {portfolio: false}``, no folds);
- ``new``: the search as shipped, with the model builder's portfolio learned **without this dataset**
  (leave-one-dataset-out, by ``benchmarks/learn_portfolio.py``, for the builders that ship one:
  ``tabular_mlp`` and ``hf_text_classifier``; the image and recommender builders ship none, so there
  ``new`` has none either, unless ``--unshipped`` learns one by ``hf_image_classifier``'s recipe)
  and, only where validation holds fewer than ``--folds-below`` rows (default 0: never, as shipped; folds are
  opt-in and measured on their own by ``benchmarks/cross_validation.py``), ``validation: {folds: 5}``.
  Where ``new`` gets neither a portfolio nor folds it is the ``search`` study itself, so it is not
  trained twice: its row repeats ``search``'s and says so.

Prints one row per dataset, budget and arm (mean and standard deviation over seeds, wall seconds),
then the issue's three checks: ``new`` >= ``search`` in mean test score on at least 5 of 6 datasets at
both budgets; ``new`` beats ``default`` by more than the seed standard deviation on at least 3 of 6;
``new`` takes no more wall time than ``search``.

    python benchmarks/small_budget.py [--datasets german-credit adult-census ...] [--seeds 3] [--first-seed 0]
        [--budgets 8 20] [--portfolios DIR] [--unshipped] [--save runs.json]
    python benchmarks/small_budget.py --merge runs-a.json runs-b.json

Adult census is subsampled to 5,000 rows (``--adult-rows``), the text studies' training splits to 750
sentences (``--text-rows``), so all six datasets run in under two hours on 2 cores as two processes of
one torch thread each (``AUTOSFT_TORCH_THREADS=1``, three datasets each, ``--save``), whose runs
``--merge`` puts in one table. The meta-dataset behind the leave-one-out
portfolios is measured once, on every learning task, and kept in ``--portfolios`` (default: a
temporary folder) with the portfolios derived from it, so a second run trains nothing to learn them.
Needs ../shared/data beside the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import learn_portfolio  # a sibling script: running a script puts its folder on sys.path
import optuna
import pandas as pd
import yaml

from autosft.config import StudyConfig, parse_study
from autosft.plugins import get_plugin_manager
from autosft.registry import Registry, collect_registry
from autosft.search.controller import run_search
from autosft.search.portfolio import portfolio_of

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
DATASETS = ("german-credit", "adult-census", "healthcare-imaging", "legal-text", "sms-spam", "retail-recsys")
ARMS = ("default", "search", "new")
#: One study's test score and wall seconds; every run by (dataset, budget, arm), one per split seed.
Run = tuple[float, float]
Runs = dict[tuple[str, int, str], list[Run]]


def study_dict(dataset: str, folder: Path, *, adult_rows: int, text_rows: int) -> dict[str, Any]:
    """The shipped study, its big data cut down: adult census to ``adult_rows`` rows, a text study's
    training split to ``text_rows`` sentences (its ``max_train_rows``, a stratified sample)."""
    raw = yaml.safe_load((REPO / "studies" / f"{dataset}.yaml").read_text())
    options = raw["dataset"]["options"]
    if "max_train_rows" in options:
        options["max_train_rows"] = min(options["max_train_rows"], text_rows)
    if dataset == "adult-census":
        frame = pd.read_csv(SHARED / "tabular/adult_census/adult.csv")
        sample = folder / "adult_sample.csv"
        frame.sample(n=min(adult_rows, len(frame)), random_state=0).to_csv(sample, index=False)
        raw["dataset"]["options"]["path"] = str(sample)
    return raw


def loo_portfolio(dataset: str, model: str, folder: Path, *, trials: int, unshipped: bool) -> Path | None:
    """The portfolio of ``model`` learned without ``dataset``, from a meta-dataset measured once in ``folder``;
    for a builder that ships none, only with ``unshipped`` (else ``new`` would not be the search as shipped)."""
    if model not in learn_portfolio.TASKS or (model not in learn_portfolio.SHIPPED and not unshipped):
        return None
    path = folder / f"{model}-without-{dataset}.json"
    if not path.is_file():
        meta_path = folder / f"{model}-meta.json"
        if meta_path.is_file():
            meta = learn_portfolio.MetaDataset.from_json(json.loads(meta_path.read_text()))
        else:
            tasks = list(learn_portfolio.TASKS[model])
            meta = learn_portfolio.measure_tasks(model, tasks, set(), trials=trials, per_task=2)
            meta_path.write_text(json.dumps(meta.to_json(), indent=1) + "\n")
        portfolio = learn_portfolio.portfolio_from(meta.without({dataset}), model=model, size=6)
        path.write_text(json.dumps(portfolio, indent=2) + "\n")
    return path


def arm_config(raw: dict[str, Any], arm: str, *, seed: int, budget: int, storage: str,
               portfolio: Path | None, folds: bool) -> StudyConfig:  # fmt: skip
    study = json.loads(json.dumps(raw))
    study.update(name=f"{raw['name']}-{arm}-{budget}-{seed}", storage=storage, seed=seed)
    study.setdefault("budget", {})["n_trials"] = 1 if arm == "default" else budget
    study.pop("select", None)
    if arm == "new":
        study["search"] = {"portfolio": str(portfolio) if portfolio else True}
        if folds:
            study["validation"] = {"folds": 5}
    else:
        study["search"] = {"portfolio": False}
    return parse_study(study, where=f"{raw['name']} ({arm})")


def run_seed(raw: dict[str, Any], dataset: str, budgets: list[int], seed: int, *, storage: str,
             portfolio: Path | None, folds_below: int, registry: Registry) -> dict[tuple[int, str], Run]:  # fmt: skip
    """The three arms on one split seed at every budget: each one's test score and wall seconds, by
    (budget, arm). The default configuration alone is one trial whatever the budget: trained once."""
    default, val_rows = run_arm(arm_config(raw, "default", seed=seed, budget=1, storage=storage, portfolio=None,
                                           folds=False))  # fmt: skip
    print(f"{dataset} seed {seed} default: {default[0]:.4f} in {default[1]:.0f} s", flush=True)
    runs: dict[tuple[int, str], Run] = {}
    for budget in budgets:
        runs[(budget, "default")] = default
        for arm, run in run_searches(raw, dataset, budget, seed, storage=storage, portfolio=portfolio,
                                     folds=val_rows < folds_below, registry=registry).items():  # fmt: skip
            runs[(budget, arm)] = run
    return runs


def run_searches(raw: dict[str, Any], dataset: str, budget: int, seed: int, *, storage: str,
                 portfolio: Path | None, folds: bool, registry: Registry) -> dict[str, Run]:  # fmt: skip
    """``search`` and ``new`` on one split seed and budget: each one's test score and wall seconds."""
    runs: dict[str, Run] = {}
    for arm in ARMS[1:]:
        config = arm_config(raw, arm, seed=seed, budget=budget, storage=storage, portfolio=portfolio, folds=folds)
        if arm == "new" and not folds and portfolio_of(config, registry) is None:
            runs[arm] = runs["search"]  # the same study: nothing to queue that `search` did not run
            print(f"{dataset} budget {budget} seed {seed} new: the search study itself (no portfolio, no folds)")
            continue
        runs[arm], _ = run_arm(config)
        print(f"{dataset} budget {budget} seed {seed} {arm}: {runs[arm][0]:.4f} in {runs[arm][1]:.0f} s", flush=True)
    return runs


def run_arm(config: StudyConfig) -> tuple[Run, int]:
    """Test score of the selected configuration and wall seconds, and the rows of the validation split."""
    started = time.perf_counter()
    outcome = run_search(config)
    seconds = time.perf_counter() - started
    assert outcome.final_test is not None, f"{config.name}: no complete trial"
    metric = config.objectives[0].metric
    return (float(outcome.final_test["test_metrics"][metric]), seconds), len(outcome.prepared.splits.val)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="the first split seed (to share seeds out)")
    parser.add_argument("--budgets", nargs="+", type=int, default=[8, 20])
    parser.add_argument("--portfolios", type=Path, default=None, help="folder of leave-one-out portfolios")
    parser.add_argument("--portfolio-trials", type=int, default=10, help="random trials per task when learning one")
    parser.add_argument(
        "--unshipped",
        action="store_true",
        help="also learn portfolios for builders that ship none but have a recipe (the image one)",
    )
    parser.add_argument("--folds-below", type=int, default=0, help="validation rows under which `new` uses folds")
    parser.add_argument("--adult-rows", type=int, default=5000)
    parser.add_argument("--text-rows", type=int, default=750, help="training sentences of a text study at most")
    parser.add_argument("--save", type=Path, default=None, help="also write the runs as JSON here")
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        help="print the table of runs saved by earlier runs (e.g. one process per dataset group)",
    )
    args = parser.parse_args()
    if args.merge:
        missing = [str(path) for path in args.merge if not path.is_file()]
        if missing:
            parser.error(f"--merge: no such file: {', '.join(missing)}")
        results = {key: runs for path in args.merge for key, runs in load_runs(path).items()}
        print_table(results)
        return
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    os.chdir(REPO)  # the study files name ../shared/data relative to the repository
    results: Runs = {}
    registry = collect_registry(get_plugin_manager())
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        portfolios = args.portfolios or folder
        portfolios.mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{folder}/small_budget.db"
        for dataset in args.datasets:
            raw = study_dict(dataset, folder, adult_rows=args.adult_rows, text_rows=args.text_rows)
            portfolio = loo_portfolio(dataset, raw["model"]["name"], portfolios, trials=args.portfolio_trials,
                                      unshipped=args.unshipped)  # fmt: skip
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                runs = run_seed(raw, dataset, args.budgets, seed, storage=storage, portfolio=portfolio,
                                folds_below=args.folds_below, registry=registry)  # fmt: skip
                for (budget, arm), run in runs.items():
                    results.setdefault((dataset, budget, arm), []).append(run)
                if args.save is not None:  # after every seed: a long run cut short keeps what it measured
                    save_runs(args.save, results)
    print_table(results)


def save_runs(path: Path, results: Runs) -> None:
    rows = [{"dataset": d, "budget": b, "arm": a, "runs": runs} for (d, b, a), runs in results.items()]
    path.write_text(json.dumps(rows, indent=1) + "\n")


def load_runs(path: Path) -> Runs:
    return {(row["dataset"], row["budget"], row["arm"]): [tuple(run) for run in row["runs"]]
            for row in json.loads(path.read_text())}  # fmt: skip


def paired(results: Runs, dataset: str, budget: int, arm: str, baseline: str) -> str:
    """``arm`` minus ``baseline`` on the same split seeds, mean and sd of the differences: the split's
    own luck (most of each arm's sd on small test splits) cancels out of a paired difference."""
    differences = [a - b for (a, _), (b, _) in zip(results[(dataset, budget, arm)],
                                                   results[(dataset, budget, baseline)], strict=True)]  # fmt: skip
    sd = statistics.stdev(differences) if len(differences) > 1 else 0.0
    return f"{statistics.mean(differences):+.4f} ± {sd:.4f}"


def print_table(results: Runs) -> None:
    datasets = list(dict.fromkeys(dataset for dataset, _, _ in results))
    budgets = sorted({budget for _, budget, _ in results})
    print(f"{'dataset':>18} | budget | {'arm':>7} | mean test |     sd | wall s | {'minus search, paired':>20} | "
          f"{'minus default, paired':>21}")  # fmt: skip
    summary: dict[tuple[str, int, str], tuple[float, float, float]] = {}
    for dataset in datasets:
        for budget in budgets:
            for arm in ARMS:
                runs = results[(dataset, budget, arm)]
                scores = [score for score, _ in runs]
                sd = statistics.stdev(scores) if len(scores) > 1 else 0.0
                wall = sum(seconds for _, seconds in runs)
                summary[(dataset, budget, arm)] = (statistics.mean(scores), sd, wall)
                versus = [paired(results, dataset, budget, arm, other) if arm == "new" else ""
                          for other in ("search", "default")]  # fmt: skip
                print(f"{dataset:>18} | {budget:6d} | {arm:>7} | {summary[(dataset, budget, arm)][0]:9.4f} | "
                      f"{sd:6.4f} | {wall:6.0f} | {versus[0]:>20} | {versus[1]:>21}")  # fmt: skip
    for budget in budgets:
        at_least = sum(summary[(d, budget, "new")][0] >= summary[(d, budget, "search")][0] for d in datasets)
        beats = sum(summary[(d, budget, "new")][0] - summary[(d, budget, "default")][0]
                    > summary[(d, budget, "new")][1] for d in datasets)  # fmt: skip
        new_wall = sum(summary[(d, budget, "new")][2] for d in datasets)
        old_wall = sum(summary[(d, budget, "search")][2] for d in datasets)
        print(f"budget {budget}: new >= search on {at_least}/{len(datasets)} datasets (want >= 5 of 6); "
              f"new - default > seed sd on {beats}/{len(datasets)} (want >= 3 of 6); "
              f"wall new/search = {new_wall / old_wall:.2f} (want <= 1)")  # fmt: skip


if __name__ == "__main__":
    main()
