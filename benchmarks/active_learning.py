"""Active learning on German credit: which rows to label next, by each strategy of `autosft rank-unlabeled` vs random.

For each split seed, the study's train split is the pool whose labels we pretend not to have. A
seeded stratified 10 % of it starts labelled (the same rows for every strategy); each round fits
the model on the labelled rows, scores test ROC-AUC, and labels 5 % of train more, chosen by the
strategy (:func:`autosft.evaluate.acquisition.rank_pool`) from the model's probabilities and
embeddings of the still unlabelled rows. Prints the test ROC-AUC curve of each strategy, mean ± sd
over seeds, and whether margin or diverse beats random on average over the rounds after the start.

The model is the study's tabular MLP at the search space's default configuration, trained by
autosft's engine (:func:`autosft.engine.trial.train_plan`, as a trial trains) with early stopping
on the full validation split, the same for every strategy. A search per round would cost its
trials 24 times over per seed and add its own selection noise to the gap between strategies,
which is what the benchmark measures; the fixed configuration isolates the choice of rows.

    python benchmarks/active_learning.py [--seeds 3] [--rounds 5] [--start 0.10] [--step 0.05]

Torch runs on one thread (:func:`autosft.engine.seeding.single_thread`, as pre-training does): a
64-unit MLP on a few hundred rows gains nothing from more, and on a shared machine each extra thread
waits for a core (7 times slower per fit at load 14 on 2 cores).

Needs ../shared/data/finance/german_credit beside the repository.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from autosft.components import DataSplit
from autosft.config import load_study_file, with_overrides
from autosft.contracts import TrialPlan
from autosft.engine.data import to_device_split
from autosft.engine.device import DeviceSetup, pick_device
from autosft.engine.loop import predict
from autosft.engine.prepared import PreparedStudy
from autosft.engine.seeding import single_thread
from autosft.engine.trial import train_plan
from autosft.evaluate.acquisition import STRATEGIES, rank_pool
from autosft.newdata import embed
from autosft.plugins import get_plugin_manager
from autosft.search.prepare import prepare_study

REPO = Path(__file__).resolve().parents[1]
STUDY = REPO / "studies" / "german-credit.yaml"
#: The strategies compared, the baseline first.
COMPARED = ("random", *(name for name in STRATEGIES if name != "random"))


@dataclass(frozen=True)
class Setting:
    """What one run of the benchmark simulates."""

    seeds: int = 3
    rounds: int = 5
    start: float = 0.10
    step: float = 0.05
    #: Caps the plan's epochs (the default configuration's, with early stopping): the test's reduced run.
    max_epochs: int | None = None


def prepared_study(seed: int, folder: str, setting: Setting) -> tuple[PreparedStudy, TrialPlan]:
    """The German credit study on split ``seed``, scored by its objective only (the other metrics
    would cost every epoch and decide nothing), and its default configuration as a plan."""
    config = with_overrides(load_study_file(STUDY), storage=f"sqlite:///{folder}/al.db", seed=seed)
    prepared = prepare_study(config, get_plugin_manager())
    prepared = dataclasses.replace(prepared, metrics=[m for m in prepared.metrics if m.name == "roc_auc"])
    plan = TrialPlan.from_values(prepared.space.values_of(prepared.space.default_params()), seed=seed)
    if setting.max_epochs is not None:
        plan = dataclasses.replace(plan, epochs=min(plan.epochs, setting.max_epochs))
    return prepared, plan


def curve(
    prepared: PreparedStudy, plan: TrialPlan, strategy: str, setting: Setting, device: DeviceSetup
) -> list[float]:
    """Test ROC-AUC after each round (the start, then ``setting.rounds`` rounds of labelling) for ``strategy``."""
    splits = prepared.splits
    train = splits.train
    rows = len(train)
    labelled, _ = train_test_split(np.arange(rows), train_size=setting.start, stratify=train.labels,
                                   random_state=plan.seed)  # fmt: skip
    labelled = np.sort(labelled)
    per_round = max(1, round(setting.step * rows))
    scores = []
    for round_number in range(setting.rounds + 1):
        subset = dataclasses.replace(splits, train=DataSplit(train.inputs[labelled], train.labels[labelled]))
        module = train_plan(prepared, plan, device, restore_best=True, splits=subset).module
        test = predict(module, to_device_split(splits.test, device.device), device, splits.task)
        scores.append(float(roc_auc_score(splits.test.labels, test[:, 1])))
        if round_number == setting.rounds:
            break
        pool = np.setdiff1d(np.arange(rows), labelled)
        unlabelled = DataSplit(train.inputs[pool], train.labels[pool])  # labels unread: predict and embed only
        probabilities = predict(module, to_device_split(unlabelled, device.device), device, splits.task)
        embeddings = covered = None
        if strategy == "diverse":
            embeddings, covered = (embed(module, rows, device="cpu") for rows in (unlabelled, subset.train))
        ranking = rank_pool(strategy, probabilities, splits.task, per_round, embeddings=embeddings,
                            labelled_embeddings=covered, seed=plan.seed * 1000 + round_number)  # fmt: skip
        labelled = np.sort(np.concatenate([labelled, pool[ranking.rows]]))
    return scores


def run(setting: Setting) -> dict[str, list[list[float]]]:
    """Every compared strategy's curves, one per seed."""
    device = pick_device("cpu")
    curves: dict[str, list[list[float]]] = {name: [] for name in COMPARED}
    with tempfile.TemporaryDirectory() as folder, single_thread():
        for seed in range(setting.seeds):
            prepared, plan = prepared_study(seed, folder, setting)
            for strategy in COMPARED:
                curves[strategy].append(curve(prepared, plan, strategy, setting, device))
    return curves


def table(curves: dict[str, list[list[float]]], setting: Setting) -> list[str]:
    """The lines printed: one row per strategy, one column per round (mean ± sd over seeds), then the verdict."""
    rounds = len(next(iter(curves.values()))[0])
    labels = [f"{100 * (setting.start + setting.step * index):.0f} %" for index in range(rounds)]
    lines = [" | ".join([f"{'strategy':<8}", *(f"{label:>15}" for label in labels), f"{'mean 1..':>15}"])]
    means = {}
    for strategy, runs in curves.items():
        cells = [_mean_sd([run[index] for run in runs]) for index in range(rounds)]
        after_start = [statistics.mean(run[1:]) if len(run) > 1 else run[0] for run in runs]
        means[strategy] = statistics.mean(after_start)
        lines.append(" | ".join([f"{strategy:<8}", *(f"{cell:>15}" for cell in cells),
                                 f"{_mean_sd(after_start):>15}"]))  # fmt: skip
    for strategy in ("margin", "diverse"):
        if strategy in means:
            gap = means[strategy] - means["random"]
            verdict = "beats" if gap > 0 else "does not beat"
            lines.append(f"{strategy} {verdict} random on average over rounds 1..: {gap:+.4f}")
    return lines


def _mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {sd:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--start", type=float, default=0.10, help="Share of train labelled at the start.")
    parser.add_argument("--step", type=float, default=0.05, help="Share of train labelled in each round.")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    setting = Setting(seeds=args.seeds, rounds=args.rounds, start=args.start, step=args.step)
    started = time.perf_counter()
    curves = run(setting)
    print(f"test ROC-AUC on German credit by share of train labelled, mean ± sd over {setting.seeds} seed(s)")
    for line in table(curves, setting):
        print(line)
    print(f"wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
