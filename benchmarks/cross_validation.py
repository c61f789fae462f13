"""Cross-validated vs single-split trial scores on German credit, at a small budget.

For each split seed, the same study (``studies/german-credit.yaml``, ``--trials`` trials) runs twice:
scored on its validation split of 200 rows, and with ``validation: {folds: 5}`` (5 folds of the 800
train+validation rows). Each selected configuration is refitted on train and scored once on the
same test split. Prints one row per seed and mode: the selected trial's validation score, its test
ROC-AUC, their gap, the trials complete and pruned, and the wall seconds; then the means per mode.

    python benchmarks/cross_validation.py [--seeds 3] [--trials 6] [--folds 5]

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
from autosft.search.controller import run_search

REPO = Path(__file__).resolve().parents[1]
STUDY = REPO / "studies" / "german-credit.yaml"
COLUMNS = ["seed", "mode", "validation", "test", "gap", "complete", "pruned", "seconds"]


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
    validation = outcome.study.trials[outcome.final_test["trial"]].value
    test = outcome.final_test["test_metrics"]["roc_auc"]
    return {"seed": seed, "mode": mode, "validation": validation, "test": test, "gap": validation - test,
            "complete": outcome.states.get("COMPLETE", 0), "pruned": outcome.states.get("PRUNED", 0),
            "seconds": seconds}  # fmt: skip


def _line(row: dict[str, Any]) -> str:
    return " | ".join(
        f"{row[name]:>10.4f}" if isinstance(row[name], float) else f"{row[name]!s:>10}" for name in COLUMNS
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(args.seeds):
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


if __name__ == "__main__":
    main()
