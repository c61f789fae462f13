"""autosft vs scikit-learn's LogisticRegression on German credit, side by side on the same splits.

For each split seed, both see the same stratified train/validation/test rows and the same
preprocessing (the fraud-tabular loader's, fitted on train). LogisticRegression is fitted once on
train and once on train+validation; autosft searches ``--trials`` configurations of the study's model
(or of ``--model``, with that builder's default options) on train/validation and scores its selected
configuration once on test, beside the references the study fits itself (``ref_*``, scored as the
final test fits them). Prints one row per seed and the means.

    python benchmarks/german_credit.py [--seeds 5] [--first-seed 0] [--trials 20] [--model tabm]

Needs ../shared/data/finance/german_credit beside the repository.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from autosft.config import StudyConfig, load_study_file, parse_study, with_overrides
from autosft.search.controller import run_search

REPO = Path(__file__).resolve().parents[1]
STUDY = REPO / "studies" / "german-credit.yaml"


def logistic_auc(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float:
    model = LogisticRegression(max_iter=5000).fit(train_x, train_y)
    return float(roc_auc_score(test_y, model.predict_proba(test_x)[:, 1]))


def with_model(config: StudyConfig, model: str | None) -> StudyConfig:
    """The study with its model replaced by ``model`` at that builder's default options (``None`` or the
    study's own model: the study as is, options included)."""
    if model is None or model == config.model.name:
        return config
    raw = config.model_dump(exclude_unset=True)
    raw["model"] = {"name": model}
    return parse_study(raw, where="--model")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--model", default=None, help="model builder replacing the study's (default: the study's)")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            config = with_overrides(with_model(load_study_file(STUDY), args.model), storage=f"sqlite:///{folder}/gc.db",
                                    study_name=f"german-credit-{seed}", seed=seed, n_trials=args.trials)  # fmt: skip
            started = time.perf_counter()
            outcome = run_search(config)
            seconds = time.perf_counter() - started
            splits = outcome.prepared.splits
            test_x, test_y = splits.test.inputs, splits.test.labels
            train_val_x = np.concatenate([splits.train.inputs, splits.val.inputs])
            train_val_y = np.concatenate([splits.train.labels, splits.val.labels])
            assert outcome.final_test is not None
            references = (outcome.final_test.get("references") or {}).get("references", {})
            rows.append({
                "seed": seed,
                "lr_train": logistic_auc(splits.train.inputs, splits.train.labels, test_x, test_y),
                "lr_train_val": logistic_auc(train_val_x, train_val_y, test_x, test_y),
                "autosft_val": outcome.study.best_value,
                "autosft_test": outcome.final_test["test_metrics"]["roc_auc"],
                "complete": outcome.states.get("COMPLETE", 0),
                "pruned": outcome.states.get("PRUNED", 0),
                "seconds": seconds,
                **{f"ref_{name}": scores["roc_auc"] for name, scores in references.items()},
            })  # fmt: skip
    columns = ["seed", "lr_train", "lr_train_val", "autosft_val", "autosft_test", "complete", "pruned", "seconds"]
    columns += [name for name in rows[0] if name.startswith("ref_")]
    print(f"test ROC-AUC on German credit (LogisticRegression vs autosft's selected {args.model or 'study'} model)")
    print(" | ".join(f"{name:>12}" for name in columns))
    for row in rows:
        print(
            " | ".join(
                f"{row[name]:>12.4f}" if isinstance(row[name], float) else f"{row[name]:>12}" for name in columns
            )
        )
    means = {name: statistics.mean(row[name] for row in rows) for name in columns[1:]}
    print(" | ".join([f"{'mean':>12}"] + [f"{means[name]:>12.4f}" for name in columns[1:]]))
    gap = means["autosft_test"] - means["lr_train_val"]
    print(f"autosft - LogisticRegression(train+val) = {gap:+.4f} (acceptance: >= -0.02)")


if __name__ == "__main__":
    main()
