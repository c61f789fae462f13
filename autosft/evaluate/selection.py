"""Seed-robust selection: re-run the best configurations with other seeds and pick by mean score.

Fine-tuning is noisy across seeds (Dodge et al., 2020), so the single best trial of a search is
partly the luckiest seed. With ``select.seeds`` set, after the budget the ``select.top_k`` best
distinct complete configurations are queued again with fixed parameters and each of ``seeds``
other seeds. The re-runs are ordinary trials of the same study, tagged with :data:`RERUN_ATTR`
(which configuration, which seed); they train to the end (never pruned) and stay out of the
ranking of configurations. A configuration is chosen by its mean validation score over all its
seeds, and every candidate's mean, standard deviation and 95 % confidence interval are stored as
the study attribute :data:`SELECTION_ATTR`.

Resuming is by the tags: a (configuration, seed) pair with any trial already (done, running,
queued or failed) is not queued again, so re-running ``autosft search`` repeats no re-run. A
re-run whose worker died is retried by the heartbeat, which copies the tag; one that failed on
its own (e.g. its loss diverged) marks that configuration unstable, and it is not chosen.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import optuna

from autosft.attrs import AS_IS_ATTR, RERUN_ATTR, SELECTION_ATTR
from autosft.evaluate.constraints import is_feasible

__all__ = [
    "CONFIDENCE",
    "RERUN_ATTR",
    "SELECTION_ATTR",
    "configuration_trials",
    "enqueue_reruns",
    "extra_seeds",
    "rerun_tag",
    "summarize_selection",
    "trial_seed",
    "waiting_reruns",
]

CONFIDENCE = 0.95

_COMPLETE = optuna.trial.TrialState.COMPLETE


def rerun_tag(trial: optuna.trial.FrozenTrial | optuna.Trial) -> dict[str, int] | None:
    """The re-run tag of ``trial``, or ``None`` for a trial the search itself proposed."""
    tag = trial.user_attrs.get(RERUN_ATTR)
    return tag if isinstance(tag, dict) else None


def trial_seed(trial: optuna.trial.FrozenTrial | optuna.Trial, study_seed: int) -> int:
    """The seed ``trial`` trains with: its re-run seed, else the study's."""
    tag = rerun_tag(trial)
    return int(tag["seed"]) if tag is not None else study_seed


def extra_seeds(study_seed: int, seeds: int) -> list[int]:
    """The seeds of the re-runs: the same for every configuration, so they are compared paired."""
    return [study_seed + offset for offset in range(1, seeds + 1)]


def configuration_trials(study: optuna.Study, top_k: int) -> list[optuna.trial.FrozenTrial]:
    """The ``top_k`` best complete, feasible trials the search proposed, one per distinct configuration."""
    direction = study.directions[0]
    # The model as is (zero epochs) gives the same scores with any seed: nothing to re-run.
    proposed = [t for t in study.get_trials(deepcopy=False, states=(_COMPLETE,))
                if rerun_tag(t) is None and not t.user_attrs.get(AS_IS_ATTR) and is_feasible(t)]  # fmt: skip
    ranked = sorted(proposed, key=lambda t: (-t.values[0] if direction.name == "MAXIMIZE" else t.values[0], t.number))
    chosen: list[optuna.trial.FrozenTrial] = []
    seen: set[str] = set()
    for trial in ranked:
        key = json.dumps(trial.params, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            chosen.append(trial)
        if len(chosen) == top_k:
            break
    return chosen


def _attempts(study: optuna.Study) -> dict[tuple[int, int], list[optuna.trial.FrozenTrial]]:
    attempts: dict[tuple[int, int], list[optuna.trial.FrozenTrial]] = {}
    for trial in study.get_trials(deepcopy=False):
        tag = rerun_tag(trial)
        if tag is not None:
            attempts.setdefault((int(tag["of"]), int(tag["seed"])), []).append(trial)
    return attempts


def enqueue_reruns(study: optuna.Study, *, top_k: int, seeds: int, study_seed: int) -> int:
    """Queue every re-run of the current top configurations that has no trial yet.

    Returns how many re-runs wait in the queue (queued now, or earlier by an interrupted run).
    """
    attempts = _attempts(study)
    for trial in configuration_trials(study, top_k):
        for seed in extra_seeds(study_seed, seeds):
            if (trial.number, seed) not in attempts:
                study.enqueue_trial(trial.params, user_attrs={RERUN_ATTR: {"of": trial.number, "seed": seed}})
    return waiting_reruns(study)


def waiting_reruns(study: optuna.Study) -> int:
    """Re-runs queued and not started (e.g. left by an interrupted run); they are owed on top of a
    run's budget, never taken out of it."""
    waiting = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))
    return sum(rerun_tag(trial) is not None for trial in waiting)


def _interval(values: list[float]) -> dict[str, float | None]:
    count = len(values)
    mean = float(np.mean(values))
    if count < 2:
        return {"mean": mean, "std": None, "ci_low": None, "ci_high": None}
    from scipy import stats

    std = float(np.std(values, ddof=1))
    half = float(stats.t.ppf((1 + CONFIDENCE) / 2, count - 1)) * std / math.sqrt(count)
    return {"mean": mean, "std": std, "ci_low": mean - half, "ci_high": mean + half}


def summarize_selection(study: optuna.Study, *, top_k: int, seeds: int, study_seed: int, metric: str) -> dict[str, Any]:
    """Mean, std and confidence interval per top configuration, and the one chosen by mean.

    Only a configuration whose every seed completed, each within the study's constraints, can be
    chosen; with none, ``selected_trial`` is ``None`` and the best single feasible trial stands.
    """
    attempts = _attempts(study)
    maximize = study.directions[0].name == "MAXIMIZE"
    rows: list[dict[str, Any]] = []
    for trial in configuration_trials(study, top_k):
        values = {study_seed: trial.values[0]}
        failed: list[int] = []
        pending: list[int] = []
        infeasible: list[int] = []
        members = [trial.number]
        for seed in extra_seeds(study_seed, seeds):
            tries = attempts.get((trial.number, seed), [])
            done = [t for t in tries if t.state == _COMPLETE]
            if done:
                values[seed] = done[0].values[0]
                members.append(done[0].number)
                if not is_feasible(done[0]):
                    infeasible.append(seed)
            elif any(not t.state.is_finished() for t in tries) or not tries:
                pending.append(seed)
            else:
                failed.append(seed)
        rows.append({"trial": trial.number, "params": trial.params, "trials": members, "seeds": list(values),
                     "values": list(values.values()), "n": len(values), **_interval(list(values.values())),
                     "failed_seeds": failed, "pending_seeds": pending, "infeasible_seeds": infeasible})  # fmt: skip
    complete = [row for row in rows if not row["failed_seeds"] and not row["pending_seeds"]
                and not row["infeasible_seeds"]]  # fmt: skip
    sign = 1.0 if maximize else -1.0
    best = max(complete, key=lambda row: sign * float(row["mean"]), default=None)
    return {
        "metric": metric,
        "direction": "maximize" if maximize else "minimize",
        "top_k": top_k,
        "seeds": [study_seed, *extra_seeds(study_seed, seeds)],
        "confidence": CONFIDENCE,
        "selected_trial": None if best is None else best["trial"],
        "configurations": rows,
    }
