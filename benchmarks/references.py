"""autosft's chosen model against the references it fits itself, on each study's own splits.

For each study file and split seed, runs the study (its shipped budget, or ``--trials``) and prints
the chosen model's test score and every reference's, as the final test stored them (references
refitted on train like the chosen trial, scored once), the references refitted on train+val too,
and the paired bootstrap 95 % interval of the model's test difference to the best reference on
validation. The numbers are the ones ``autosft best --json`` shows for the same study.

    python benchmarks/references.py [--study studies/german-credit.yaml ...] [--seeds 5] [--trials N]

The default study reads ../shared/data/finance/german_credit beside the repository.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna

from autosft.config import load_study_file, with_overrides
from autosft.engine.device import pick_device
from autosft.engine.scoring import score
from autosft.evaluate.references import REFERENCES_ATTR, score_on_test
from autosft.evaluate.refit import refit
from autosft.search.controller import run_search

REPO = Path(__file__).resolve().parents[1]
DEFAULT_STUDY = REPO / "studies" / "german-credit.yaml"


def run_one(study_file: Path, seed: int, trials: int | None, folder: str) -> dict[str, Any]:
    """One study on one split seed: the model's and every reference's test score and the difference."""
    config = with_overrides(load_study_file(study_file), storage=f"sqlite:///{folder}/references.db",
                            study_name=f"{study_file.stem}-{seed}", seed=seed, n_trials=trials)  # fmt: skip
    started = time.perf_counter()
    outcome = run_search(config)
    seconds = time.perf_counter() - started
    assert outcome.final_test is not None and outcome.final_test["references"] is not None
    metric = outcome.prepared.objective_metrics[0]
    compared = outcome.final_test["references"]
    row: dict[str, Any] = {
        "study": study_file.stem,
        "seed": seed,
        "autosft": outcome.final_test["test_metrics"][metric],
    }
    row |= {name: scores[metric] for name, scores in compared["references"].items()}
    # The references as a train+val export would refit them, beside the model refitted the same way.
    record = outcome.study.user_attrs[REFERENCES_ATTR]
    trial = outcome.study.trials[outcome.final_test["trial"]]
    model = refit(outcome.prepared, trial, pick_device("cpu"), "train+val")
    train_val = score_on_test(outcome.prepared, record, model.test_probabilities, "train+val")
    row["autosft (train+val)"] = score(outcome.prepared.metrics, outcome.prepared.splits.test.labels,
                                       model.test_probabilities)[metric]  # fmt: skip
    row |= {f"{name} (train+val)": scores[metric] for name, scores in train_val["references"].items()}
    row["difference"] = compared.get("difference")
    row["best_reference"] = compared.get("best_reference")
    row["reference_seconds"] = sum(record["seconds"].values())
    row["seconds"] = seconds
    row["metric"] = metric
    return row


def print_table(rows: list[dict[str, Any]]) -> None:
    names = [key for key in rows[0] if key not in ("study", "seed", "difference", "best_reference", "metric",
                                                    "reference_seconds", "seconds")]  # fmt: skip
    print(f"test {rows[0]['metric']} of {rows[0]['study']}: autosft's chosen model vs the references")
    print(
        " | ".join(["seed".rjust(4), *(name.rjust(max(len(name), 7)) for name in names), "model - best ref [95 % CI]"])
    )
    for row in rows:
        difference = row["difference"] or {}
        gap = ""
        if difference:
            low, high = difference["low"], difference["high"]
            gap = f"{difference['value']:+.4f} [{low:+.4f}, {high:+.4f}] ({row['best_reference']})"
        cells = [f"{row.get(name, float('nan')):.4f}".rjust(max(len(name), 7)) for name in names]
        print(" | ".join([str(row["seed"]).rjust(4), *cells, gap]))
    means = [f"{statistics.mean(row.get(name, float('nan')) for row in rows):.4f}".rjust(max(len(name), 7))
             for name in names]  # fmt: skip
    print(" | ".join(["mean", *means]))
    share = sum(row["reference_seconds"] for row in rows) / sum(row["seconds"] for row in rows)
    print(f"references' validation fits: {share:.1%} of the studies' wall time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, action="append", help="study file(s) [default: german credit]")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=None, help="trials per study [default: its budget]")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        for study_file in args.study or [DEFAULT_STUDY]:
            print_table([run_one(study_file, seed, args.trials, folder) for seed in range(args.seeds)])


if __name__ == "__main__":
    main()
