"""Cross-validated vs single-split trial scores on German credit, at a small budget.

For each split seed, the same study (``studies/german-credit.yaml``, ``--trials`` trials) runs twice:
scored on its validation split of 200 rows, and with ``validation: {folds: 5}`` (5 folds of the 800
train+validation rows). Each selected configuration is refitted on train and scored once on the
same test split. Prints one row per seed and mode: the selected trial's validation score, its test
ROC-AUC, their gap (validation minus test) and its size, the test ROC-AUC of the same configuration
refitted on train+validation (``autosft export --refit train+val``), the trials complete and pruned,
and the wall seconds; then the means per mode, and the paired differences (folds minus split, mean
and standard error over seeds). ``--first-seed`` lets processes share the seeds out.

    python benchmarks/cross_validation.py [--seeds 3] [--first-seed 0] [--trials 6] [--folds 5]

Needs ../shared/data/finance/german_credit beside the repository.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna

from autosft.config import load_study_file, parse_study, with_overrides
from autosft.engine.device import pick_device
from autosft.engine.scoring import score
from autosft.evaluate.refit import refit
from autosft.search.controller import run_search

REPO = Path(__file__).resolve().parents[1]
STUDY = REPO / "studies" / "german-credit.yaml"
COLUMNS = ["seed", "mode", "validation", "test", "gap", "|gap|", "test t+v", "complete", "pruned", "seconds"]


def run(seed: int, folds: int | None, *, trials: int, folder: str) -> dict[str, Any]:
    """One study on split seed ``seed``: on the validation split (``folds`` None) or by ``folds`` folds."""
    mode = "split" if folds is None else f"{folds} folds"
    config = with_overrides(load_study_file(STUDY), storage=f"sqlite:///{folder}/cv.db", seed=seed, n_trials=trials,
                            study_name=f"german-credit-{seed}-{mode.replace(' ', '')}")  # fmt: skip
    if folds is not None:
        config = parse_study({**config.model_dump(exclude_unset=True), "validation": {"folds": folds}}, where=mode)
    started = time.perf_counter()
    outcome = run_search(config)
    seconds = time.perf_counter() - started
    assert outcome.final_test is not None
    selected = outcome.study.trials[outcome.final_test["trial"]]
    validation, test = selected.value, outcome.final_test["test_metrics"]["roc_auc"]
    both = refit(outcome.prepared, selected, pick_device(), "train+val")
    with_validation = score(outcome.prepared.metrics, outcome.prepared.splits.test.labels, both.test_probabilities)
    return {"seed": seed, "mode": mode, "validation": validation, "test": test, "gap": validation - test,
            "|gap|": abs(validation - test), "test t+v": with_validation["roc_auc"],
            "complete": outcome.states.get("COMPLETE", 0), "pruned": outcome.states.get("PRUNED", 0),
            "seconds": seconds}  # fmt: skip


def _line(row: dict[str, Any]) -> str:
    return " | ".join(
        f"{row[name]:>10.4f}" if isinstance(row[name], float) else f"{row[name]!s:>10}" for name in COLUMNS
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for folds in (None, args.folds):
                rows.append(run(seed, folds, trials=args.trials, folder=folder))
                print(_line(rows[-1]), flush=True)
    print(f"German credit, {args.trials} trials: the selected configuration's validation score and test ROC-AUC")
    print(" | ".join(f"{name:>10}" for name in COLUMNS))
    for row in rows:
        print(_line(row))
    for mode in dict.fromkeys(row["mode"] for row in rows):
        chosen = [row for row in rows if row["mode"] == mode]
        means = {name: statistics.mean(row[name] for row in chosen) for name in COLUMNS[2:]}
        print(_line({"seed": "mean", "mode": mode, **means}))
    split, folded = ([row for row in rows if row["mode"] == mode] for mode in ("split", f"{args.folds} folds"))
    for name in ("|gap|", "test", "test t+v"):
        differences = [b[name] - a[name] for a, b in zip(split, folded, strict=True)]
        error = statistics.stdev(differences) / len(differences) ** 0.5 if len(differences) > 1 else float("nan")
        print(f"folds minus split, {name}: {statistics.mean(differences):+.4f} (standard error {error:.4f})")


if __name__ == "__main__":
    main()
