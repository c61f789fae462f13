"""Learn a model builder's portfolio across tasks (greedy portfolio construction, as in auto-sklearn 2.0).

1. Meta-dataset: on every task, a random search of ``--trials`` trials (no pruning, no portfolio); the
   ``--per-task`` best complete configurations of each task become candidates, with the default.
2. Every candidate is trained on every task (learning rates carried as multiples of each task's
   default rate, as portfolios store them), giving a candidates x tasks score matrix, each task's
   scores scaled to [0, 1] between its worst and best candidate.
3. Greedy construction: start empty; repeatedly add the candidate that most raises the mean over tasks
   of the best scaled score in the portfolio (ties, and places left once every task has its best, go
   to the highest mean scaled score); stop at ``--size`` entries.

Tasks (``--model``): for ``tabular_mlp``, German credit, a seeded 3,000-row sample of adult census,
generated fraud tables of several shapes (``synthetic_fraud`` with other seeds, shifts and positive
rates, pre-trained on their other segments) and two small generated tables of 1,000 and 2,000 rows
trained from scratch; for ``hf_text_classifier``, the CLAUDETTE and SMS spam studies as shipped (MiniLM,
frozen encoder, their row caps), the only text tasks with shared data; for ``hf_image_classifier``,
the BreastMNIST study and generated grey 28x28 tasks of its size (noisy scikit-learn digits, speckled
lesions with ragged or smooth borders), all trained from random weights as offline image studies
are; learned without BreastMNIST it did not reliably help BreastMNIST, so none ships (``--out``
writes one for ``search: {portfolio: FILE}``). A shipped portfolio lives in the package that owns
its builder (``SHIPPED``; ``--ship`` writes there) and says what its tasks' models started from
(``WEIGHTS``).
``--leave-out NAME`` learns without one task, as ``benchmarks/small_budget.py`` needs
(leave-one-dataset-out). ``--meta FILE`` keeps the measurements: a later run with the same file
trains nothing and only drops the left-out tasks (their column, and candidates only they gave).
Prints the matrix and the portfolio, and writes it as JSON (``--out FILE``, or ``--ship``):

    python benchmarks/learn_portfolio.py [--model tabular_mlp] [--trials 10] [--per-task 2] [--size 6]
        [--leave-out german-credit] [--meta meta.json] [--out FILE | --ship]

Needs ../shared/data beside the repository for the real tasks (skipped with a line without it).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import yaml

from autosft.config import parse_study
from autosft.engine.prepared import PreparedStudy
from autosft.portfolios import RELATIVE_DIMENSIONS
from autosft.search.controller import run_search
from autosft.search.portfolio import resolved_configuration
from autosft.search.study import is_starting_trial
from autosft.space import Fixed, SearchSpace

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
#: Where each builder's shipped portfolio lives: in the package that registers the builder.
SHIPPED = {
    "tabular_mlp": REPO / "plugins/autosft-fraud-tabular/autosft_fraud_tabular/portfolios/tabular_mlp.json",
    "hf_text_classifier": REPO / "autosft/default_plugins/text/portfolios/hf_text_classifier.json",
}
#: What every learning task of a builder starts from, written into its portfolio (``Portfolio.weights``)
#: so a study whose model starts from the other kind goes without it. The tabular tasks mix both.
WEIGHTS = {"hf_text_classifier": "pretrained", "hf_image_classifier": "random"}
#: Epochs a learning trial may run at most: enough to rank configurations, cheap enough for many trials.
MAX_EPOCHS = 15

#: A task: its name and a function writing what it needs into a folder and returning its study (as a dict).
TaskFactory = Callable[[Path], dict[str, Any] | None]


def _study_file(name: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / "studies" / f"{name}.yaml").read_text())


def shipped(name: str, data: str) -> TaskFactory:
    """The study file ``studies/NAME.yaml`` as shipped, where its shared data folder ``data`` is there."""

    def factory(_: Path) -> dict[str, Any] | None:
        return _study_file(name) if (SHARED / data).is_dir() else None

    return factory


def adult_sample(folder: Path) -> dict[str, Any] | None:
    """3,000 seeded rows of adult census's training part: the task's shape at a tenth of its cost."""
    source = SHARED / "tabular/adult_census/adult.csv"
    if not source.is_file():
        return None
    frame = pd.read_csv(source)
    frame = frame[frame["split"] == "train"].sample(n=3000, random_state=0)
    path = folder / "adult_sample.csv"
    frame.to_csv(path, index=False)
    raw = _study_file("adult-census")
    raw["dataset"]["options"]["path"] = str(path)
    return raw


def generated(data_seed: int, shift: float, positive_rate: float, *, rows: int = 4000, segments: int = 4,
              metric: str = "pr_auc") -> TaskFactory:  # fmt: skip
    """A generated fraud table of ``rows`` rows over ``segments`` segments: with more than one, the
    model pre-trains on the others (a source population, like the quickstart's); with one, it trains
    from scratch on a small table, like German credit."""

    def factory(_: Path) -> dict[str, Any]:
        options = {"n_rows": rows, "n_segments": segments, "positive_rate": positive_rate, "segment_shift": shift,
                   "data_seed": data_seed}  # fmt: skip
        return {"task": "binary", "dataset": {"name": "synthetic_fraud", "options": options},
                "model": {"name": "tabular_mlp"}, "objective": {"metric": metric}}  # fmt: skip

    return factory


def _npz_task(folder: Path, name: str, images: np.ndarray, labels: np.ndarray, *, val_rows: int) -> dict[str, Any]:
    """The BreastMNIST study with its data swapped for ``images`` (N, 28, 28 in [0, 1]) and 0/1 ``labels``
    (1 the class to find), written as MedMNIST-style arrays: the first ``val_rows`` validate, the rest train."""
    pixels = np.clip(images * 255, 0, 255).astype(np.uint8)
    path = folder / f"{name}.npz"
    np.savez(path, val_images=pixels[:val_rows], val_labels=labels[:val_rows].astype(np.uint8),
             train_images=pixels[val_rows:], train_labels=labels[val_rows:].astype(np.uint8))  # fmt: skip
    raw = _study_file("healthcare-imaging")
    raw["dataset"]["options"] = {"path": str(path), "class_names": ["other", "target"], "positive_class": "target"}
    return raw


def noisy_digits(data_seed: int, targets: tuple[int, ...], *, rows: int, noise: float) -> TaskFactory:
    """scikit-learn's bundled 8x8 digits (1,797 scans of handwriting, offline), blown up to 28x28 grey,
    shifted by up to 3 pixels and drowned in Gaussian noise: find ``targets`` among the other digits in
    ``rows`` images. Small, grey and noisy, like the medical scans the image builder meets without weights."""

    def factory(folder: Path) -> dict[str, Any]:
        from scipy.ndimage import shift, zoom
        from sklearn.datasets import load_digits

        rng = np.random.default_rng(data_seed)
        digits = load_digits()
        chosen = rng.choice(len(digits.images), size=rows, replace=False)
        images = np.stack([shift(zoom(digits.images[i] / 16.0, 3.5, order=1), rng.integers(-3, 4, size=2), order=0)
                           for i in chosen])  # fmt: skip
        images = images + rng.normal(0.0, noise, images.shape)
        labels = np.isin(digits.target[chosen], targets).astype(int)
        return _npz_task(folder, f"digits-{data_seed}", images, labels, val_rows=rows // 3)

    return factory


def lesions(data_seed: int, positive_rate: float, *, rows: int, roughness: float) -> TaskFactory:
    """Generated speckled scans, each with one dark lesion: a smooth ellipse, or (the class to find, at
    ``positive_rate``) one whose border is ragged by ``roughness``; sizes, places and contrast vary, so
    only the border's shape tells them apart, as a radiologist reads a breast ultrasound."""

    def factory(folder: Path) -> dict[str, Any]:
        rng = np.random.default_rng(data_seed)
        labels = (rng.random(rows) < positive_rate).astype(int)
        ys, xs = np.mgrid[0:28, 0:28]
        images = []
        for label in labels:
            centre = rng.uniform(9, 19, size=2)
            axes = rng.uniform(3.5, 7.5, size=2)
            angle = np.arctan2(ys - centre[0], xs - centre[1])
            radius = np.hypot((ys - centre[0]) / axes[0], (xs - centre[1]) / axes[1])
            border = 1.0
            if label:
                for harmonic in rng.integers(3, 6, size=2):
                    border = border + roughness * rng.uniform(0.5, 1.0) * np.sin(harmonic * angle + rng.uniform(0, 6.3))
            inside = 1.0 / (1.0 + np.exp((radius - border) * 8.0))
            background = 0.55 + 0.1 * (ys / 28.0) + rng.normal(0, 0.03)
            image = background - rng.uniform(0.2, 0.4) * inside
            images.append(image * rng.gamma(16.0, 1 / 16, size=image.shape))  # multiplicative speckle, mean 1
        return _npz_task(folder, f"lesions-{data_seed}", np.stack(images), labels, val_rows=rows // 3)

    return factory


#: The learning tasks of each model builder that has a recipe, by task name.
TASKS: dict[str, dict[str, TaskFactory]] = {
    "tabular_mlp": {
        "german-credit": shipped("german-credit", "finance/german_credit"),
        "adult-census": adult_sample,
        "fraud-a": generated(1, 0.5, 0.05),
        "fraud-b": generated(2, 1.5, 0.1),
        "fraud-c": generated(3, 0.2, 0.03),
        # Small tables trained from scratch (no source population), so a portfolio left without
        # German credit still has the regime of its 600 rows.
        "small-a": generated(4, 0.0, 0.3, rows=1000, segments=1, metric="roc_auc"),
        "small-b": generated(5, 0.0, 0.15, rows=2000, segments=1, metric="roc_auc"),
    },
    # BreastMNIST is the only shared image dataset, so most tasks are generated: noisy digits and
    # speckled lesions of about its size, grey 28x28, trained from scratch as its study is.
    "hf_image_classifier": {
        "healthcare-imaging": shipped("healthcare-imaging", "healthcare/breastmnist"),
        "digits-a": noisy_digits(1, (3, 5, 8), rows=900, noise=0.45),
        "digits-b": noisy_digits(2, (1, 7), rows=1200, noise=0.6),
        "lesions-a": lesions(3, 0.3, rows=900, roughness=0.35),
        "lesions-b": lesions(4, 0.2, rows=1200, roughness=0.25),
    },
    "hf_text_classifier": {
        "legal-text": shipped("legal-text", "legal/claudette_tos_en"),
        "sms-spam": shipped("sms-spam", "text/sms_spam"),
    },
}


@dataclass
class Task:
    name: str
    raw: dict[str, Any]


def study_config(task: Task, folder: Path, *, tag: str, n_trials: int, sampler: str, seed: int = 0) -> Any:
    raw = json.loads(json.dumps(task.raw))
    raw.update(name=f"{task.name}-{tag}", storage=f"sqlite:///{folder}/learn.db", seed=seed,
               sampler={"name": sampler}, pruner={"name": "none"}, search={"portfolio": False})  # fmt: skip
    budget = raw.setdefault("budget", {})
    budget.update(n_trials=n_trials, max_epochs=min(budget.get("max_epochs", MAX_EPOCHS), MAX_EPOCHS))
    raw.pop("reference", None)
    raw.pop("select", None)
    return parse_study(raw, where=f"task {task.name}")


def relative_entry(space: SearchSpace, params: dict[str, Any]) -> dict[str, Any]:
    """A trial's configuration as a portfolio entry: learning rates as multiples of the space's default.

    Values the task's study pinned (``adaptation: {value: freeze}`` in the text studies) are part of
    the entry: a rate 30x the default suits a frozen encoder's top layer, not full fine-tuning, so a
    study with the whole space must get the configuration that was measured. A pinned rate is left out:
    the study's own default stands.
    """
    entry = {}
    for name, value in space.values_of(params).items():
        dimension = space.dimensions[name]
        if name not in RELATIVE_DIMENSIONS:
            entry[name] = value
        elif not isinstance(dimension, Fixed):
            entry[name] = round(value / dimension.default, 4)
    return entry


def search_candidates(task: Task, folder: Path, *, trials: int, per_task: int) -> list[dict[str, Any]]:
    """The task's best complete configurations of a random search, as portfolio entries.

    Each task's search has its own seed: tasks of one builder share a space, so one seed would draw the
    same configurations on every task and the meta-dataset would hold a single search's candidates.
    """
    config = study_config(task, folder, tag="search", n_trials=trials, sampler="random",
                          seed=zlib.crc32(task.name.encode()) % 10_000)  # fmt: skip
    outcome = run_search(config, final_test=False)
    complete = [t for t in outcome.study.trials if t.state == optuna.trial.TrialState.COMPLETE and t.params]
    complete = [t for t in complete if not is_starting_trial(t) and math.isfinite(t.values[0])]
    complete.sort(key=lambda t: t.values[0], reverse=True)
    return [relative_entry(outcome.prepared.space, dict(t.params)) for t in complete[:per_task]]


def cross_scores(task: Task, folder: Path, candidates: list[dict[str, Any]]) -> list[float]:
    """Each candidate trained once on the task, scored on its validation split (NaN where it failed)."""

    def enqueue(prepared: PreparedStudy, study: optuna.Study) -> None:
        for index, entry in enumerate(candidates):
            study.enqueue_trial(resolved_configuration(prepared.space, entry), user_attrs={"candidate": index})

    waiting = len(candidates) + 2  # the starting trials (default, as is where the head fits) come first
    outcome = run_search(study_config(task, folder, tag="cross", n_trials=waiting, sampler="random"),
                         final_test=False, on_prepared=enqueue)  # fmt: skip
    scores = [math.nan] * len(candidates)
    for trial in outcome.study.trials:
        index = trial.user_attrs.get("candidate")
        if index is not None and trial.state == optuna.trial.TrialState.COMPLETE:
            scores[index] = trial.values[0]
    return scores


def scaled(matrix: np.ndarray) -> np.ndarray:
    """Each task's column scaled to [0, 1] between its worst and best candidate; a failed run scores 0."""
    low, high = np.nanmin(matrix, axis=0), np.nanmax(matrix, axis=0)
    spread = np.where(high > low, high - low, 1.0)
    return np.nan_to_num((matrix - low) / spread, nan=0.0)


def greedy_portfolio(quality: np.ndarray, size: int) -> list[int]:
    """Candidate rows, in the order picked, each raising the mean over tasks of the portfolio's best most.

    Once every task has its best candidate (always so with one or two tasks, as for a builder with
    few shared datasets), nothing raises that mean; the places left go to the candidates with the
    highest mean scaled score, so a study's start-up still tries what did well on average, not random samples.
    """
    picked: list[int] = []
    best = np.zeros(quality.shape[1])
    while len(picked) < min(size, len(quality)):
        gains = [(np.maximum(best, row).mean() - best.mean(), row.mean()) if i not in picked else (-1.0, -1.0)
                 for i, row in enumerate(quality)]  # fmt: skip
        choice = max(range(len(gains)), key=gains.__getitem__)
        picked.append(choice)
        best = np.maximum(best, quality[choice])
    return picked


@dataclass
class MetaDataset:
    """What learning measured: the candidates, the tasks each came from, and their score on every task.

    Kept as JSON (``--meta``) so a leave-one-out portfolio is one greedy pass over it, not a new search:
    dropping a task's column and the candidates only it contributed leaves exactly what learning without
    that task would have cross-evaluated on the other tasks.
    """

    tasks: list[str]
    candidates: list[dict[str, Any]]
    origins: list[list[str]]
    matrix: np.ndarray
    trials_per_task: int

    def without(self, left_out: set[str]) -> MetaDataset:
        columns = [i for i, name in enumerate(self.tasks) if name not in left_out]
        rows = [i for i, origin in enumerate(self.origins) if not origin or set(origin) - left_out]
        return MetaDataset([self.tasks[i] for i in columns], [self.candidates[i] for i in rows],
                           [self.origins[i] for i in rows], self.matrix[np.ix_(rows, columns)],
                           self.trials_per_task)  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {"tasks": self.tasks, "candidates": self.candidates, "origins": self.origins,
                "matrix": [[None if math.isnan(v) else float(v) for v in row] for row in self.matrix],
                "trials_per_task": self.trials_per_task}  # fmt: skip

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> MetaDataset:
        matrix = np.array([[math.nan if v is None else v for v in row] for row in raw["matrix"]], dtype=float)
        return cls(raw["tasks"], raw["candidates"], raw["origins"], matrix.reshape(len(raw["candidates"]), -1),
                   raw["trials_per_task"])  # fmt: skip


def measure(tasks: list[Task], folder: Path, *, trials: int, per_task: int) -> MetaDataset:
    """Random search on every task for candidates, then every candidate trained on every task."""
    candidates: list[dict[str, Any]] = [{}]  # the default configuration competes too
    origins: list[list[str]] = [[]]
    for task in tasks:
        started = time.perf_counter()
        for entry in search_candidates(task, folder, trials=trials, per_task=per_task):
            if entry in candidates:
                origins[candidates.index(entry)].append(task.name)
            else:
                candidates.append(entry)
                origins.append([task.name])
        print(f"{task.name}: searched in {time.perf_counter() - started:.0f} s", flush=True)
    matrix = np.full((len(candidates), len(tasks)), math.nan)
    for column, task in enumerate(tasks):
        started = time.perf_counter()
        matrix[:, column] = cross_scores(task, folder, candidates)
        print(f"{task.name}: {len(candidates)} candidates in {time.perf_counter() - started:.0f} s", flush=True)
    return MetaDataset([task.name for task in tasks], candidates, origins, matrix, trials)


def portfolio_from(meta: MetaDataset, *, model: str, size: int) -> dict[str, Any]:
    """``model``'s greedy portfolio over the meta-dataset, as the JSON a plugin ships."""
    quality = scaled(meta.matrix)
    picked = greedy_portfolio(quality, size)
    print_matrix(meta.tasks, meta.candidates, meta.matrix, quality, picked)
    return {
        "model": model,
        "source": f"{len(meta.tasks)} tasks ({', '.join(meta.tasks)}), {datetime.date.today().isoformat()}",
        "configurations": [meta.candidates[i] for i in picked],
        **({"weights": WEIGHTS[model]} if model in WEIGHTS else {}),
        "learned": {"tasks": meta.tasks, "trials_per_task": meta.trials_per_task,
                    "scaled_quality": [[round(float(q), 4) for q in quality[i]] for i in picked],
                    "mean_best_scaled": round(float(quality[picked].max(axis=0).mean()), 4)},
    }  # fmt: skip


def print_matrix(tasks: list[str], candidates: list[dict[str, Any]], matrix: np.ndarray, quality: np.ndarray,
                 picked: list[int]) -> None:  # fmt: skip
    header = "candidate | " + " | ".join(f"{task:>13}" for task in tasks) + " | mean scaled | pick"
    print(header)
    for index, row in enumerate(matrix):
        order = f"#{picked.index(index) + 1}" if index in picked else ""
        cells = " | ".join(f"{value:13.4f}" for value in row)
        print(f"{index:9d} | {cells} | {quality[index].mean():11.3f} | {order}")
    for index in picked:
        print(f"#{picked.index(index) + 1}: {json.dumps(candidates[index])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tabular_mlp", choices=sorted(TASKS), help="the model builder")
    parser.add_argument("--trials", type=int, default=10, help="random-search trials per task")
    parser.add_argument("--per-task", type=int, default=2, help="candidates each task contributes")
    parser.add_argument("--size", type=int, default=6, help="portfolio entries at most")
    parser.add_argument("--leave-out", action="append", default=[], help="a task to learn without")
    parser.add_argument("--tasks", nargs="*", default=None, help="tasks to learn on (default: all of the model's)")
    parser.add_argument("--out", type=Path, default=None, help="where to write the portfolio JSON")
    parser.add_argument("--ship", action="store_true", help="write it where the builder's package ships it")
    parser.add_argument("--meta", type=Path, default=None, help="meta-dataset JSON: read if it exists, else written")
    args = parser.parse_args()
    if args.ship and args.out is not None:
        parser.error("--ship and --out both name where to write; give one")
    if args.ship and args.model not in SHIPPED:
        parser.error(f"{args.model} ships no portfolio; write it with --out FILE")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    os.chdir(REPO)  # the study files name ../shared/data relative to the repository
    tasks = TASKS[args.model]
    unknown = [name for name in [*args.leave_out, *(args.tasks or [])] if name not in tasks]
    if unknown:
        parser.error(f"unknown task(s) {unknown} of {args.model}; valid: {', '.join(tasks)}")
    if args.meta is not None and args.meta.is_file():
        meta = MetaDataset.from_json(json.loads(args.meta.read_text()))
    else:
        meta = measure_tasks(args.model, args.tasks or list(tasks), set(args.leave_out), trials=args.trials,
                             per_task=args.per_task)  # fmt: skip
        if args.meta is not None:
            args.meta.write_text(json.dumps(meta.to_json(), indent=1) + "\n")
            print(f"written {args.meta}")
    portfolio = portfolio_from(meta.without(set(args.leave_out)), model=args.model, size=args.size)
    out = SHIPPED[args.model] if args.ship else args.out
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(portfolio, indent=2) + "\n")
        print(f"written {out}")


def measure_tasks(model: str, names: list[str], left_out: set[str], *, trials: int, per_task: int) -> MetaDataset:
    """The meta-dataset over ``model``'s named tasks with shared data, less those left out."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        tasks = []
        for task_name in names:
            raw = None if task_name in left_out else TASKS[model][task_name](folder)
            if raw is None:
                print(f"{task_name}: skipped ({'left out' if task_name in left_out else 'no shared data'})")
                continue
            tasks.append(Task(task_name, raw))
        return measure(tasks, folder, trials=trials, per_task=per_task)


if __name__ == "__main__":
    main()
