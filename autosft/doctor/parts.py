"""The doctor's checks of metrics, augmentations and imbalance strategies, each on tiny generated data.

Every check returns findings instead of raising, so one broken component never hides the next.
A failure's detail names what the contract asks and how to meet it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from autosft.components import Augmentation, DataSplit, ImbalanceStrategy, Metric, TaskType, class_counts
from autosft.doctor.findings import Finding, Status
from autosft.doctor.tiny import CLASSES, TINY_KINDS, tiny_batch_inputs, tiny_labels, tiny_probabilities, tiny_splits

__all__ = ["check_augmentation", "check_imbalance", "check_metric"]

#: Rows the metrics score; enough that every class of every task is present more than once.
METRIC_ROWS = 32
#: Rows of the imbalanced split strategies resample: SMOTE-like strategies need several minority rows.
IMBALANCE_ROWS = 40
AUGMENTATION_STRENGTHS = (0.5, 1.0)
ONE_NUMBER = "compute(labels, probabilities) must return one number"


def _finding(plugin: str, kind: str, name: str) -> Callable[[Status, str], Finding]:
    def make(status: Status, detail: str) -> Finding:
        return Finding(status, plugin, kind, name, detail)

    return make


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def _score(metric: Metric, labels: np.ndarray, probabilities: np.ndarray) -> float | str:
    """The metric's value, or why it is not one finite number."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = metric.compute(labels, probabilities)
    except Exception as error:  # any exception is the finding, not a crash of the doctor
        return f"compute raises {type(error).__name__}: {error}"
    if isinstance(value, (str, bytes, bool)) or np.ndim(value) != 0:
        shape = f" of shape {np.shape(value)}" if np.ndim(value) else ""
        return f"returned {type(value).__name__}{shape}, not a float; {ONE_NUMBER}"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"returned {type(value).__name__}, not a float; {ONE_NUMBER}"
    if not math.isfinite(number):
        return f"returned {number} on {len(labels)} rows with every class present; return a finite number there"
    return number


def check_metric(metric: Metric, plugin: str) -> list[Finding]:
    """One finite float per fitting task, and a perfect prediction scoring at least as well as a random one."""
    make = _finding(plugin, "metric", metric.name)
    tasks = [task for task in CLASSES if task in metric.task_types]
    if not tasks:
        return [make("skipped", f"scores none of the tasks {', '.join(CLASSES)}")]
    findings = []
    for task in tasks:
        classes = max(CLASSES[task], metric.min_classes)
        rng = np.random.default_rng(0)
        labels = tiny_labels(task, METRIC_ROWS, rng, classes=classes)
        scores = {perfect: _score(metric, labels, tiny_probabilities(labels, task, classes, rng, perfect=perfect))
                  for perfect in (False, True)}  # fmt: skip
        problem = next((score for score in scores.values() if isinstance(score, str)), None)
        if problem is not None:
            findings.append(make("FAIL", f"{task}: {problem}"))
            continue
        perfect, random = float(scores[True]), float(scores[False])
        better = perfect >= random if metric.direction == "maximize" else perfect <= random
        if not better:
            findings.append(make("FAIL", f"{task}: a perfect prediction scores {perfect:.4g}, a random one "
                                         f"{random:.4g}, against direction {metric.direction!r}; fix the "
                                         "direction or the sign of compute"))  # fmt: skip
            continue
        findings.append(make("ok", f"{task}: perfect {perfect:.4g}, random {random:.4g} ({metric.direction})"))
    return findings


# --------------------------------------------------------------------------------------------
# Augmentations
# --------------------------------------------------------------------------------------------


def _tensors(inputs: Any) -> Any:
    import torch

    if isinstance(inputs, Mapping):
        return {key: torch.as_tensor(value) for key, value in inputs.items()}
    return torch.as_tensor(inputs)


def _parts(inputs: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(inputs, Mapping):
        yield from ((f"inputs[{key!r}]", value) for key, value in inputs.items())
    else:
        yield "inputs", inputs


def _layout_change(before: Any, after: Any) -> str | None:
    """How ``after`` differs from ``before`` in keys, shapes or dtypes, or ``None``."""
    if isinstance(before, Mapping) != isinstance(after, Mapping):
        return f"inputs became {type(after).__name__}"
    if isinstance(before, Mapping) and set(before) != set(after):
        return f"input keys {sorted(before)} became {sorted(after)}"
    changed = dict(_parts(after))
    for name, tensor in _parts(before):
        other = changed[name]
        if not hasattr(other, "shape") or tuple(other.shape) != tuple(tensor.shape) or other.dtype != tensor.dtype:
            got = f"{tuple(other.shape)} {other.dtype}" if hasattr(other, "shape") else type(other).__name__
            return f"{name} {tuple(tensor.shape)} {tensor.dtype} became {got}"
    return None


def _unchanged(before: Any, after: Any) -> bool:
    import torch

    return all(torch.equal(tensor, dict(_parts(after))[name]) for name, tensor in _parts(before))


def check_augmentation(augmentation: Augmentation, plugin: str, examples: Mapping[str, Any]) -> list[Finding]:
    """Per input kind: shapes and dtypes kept at every strength, inputs and targets unchanged at 0.

    ``examples`` maps an input kind to batch inputs from the plugin's own loader (kinds the doctor
    cannot generate); the others are generated.
    """
    import torch

    from autosft.engine.losses import soft_targets

    make = _finding(plugin, "augmentation", augmentation.name)
    findings = []
    for kind in sorted(augmentation.input_kinds):
        raw = examples.get(kind)
        if raw is None and kind not in TINY_KINDS:
            findings.append(make("skipped", f"{kind}: no tiny data of this input kind; give the plugin a loader "
                                            "of this kind with an example() to have it checked"))  # fmt: skip
            continue
        inputs = _tensors(tiny_batch_inputs(kind) if raw is None else raw)
        rows = len(next(iter(inputs.values())) if isinstance(inputs, Mapping) else inputs)
        labels = torch.as_tensor(np.arange(rows) % 2)
        targets = soft_targets(labels, task="binary", num_classes=2, smoothing=0.0)
        problem = _augmentation_problem(augmentation, inputs, targets)
        findings.append(make("FAIL", f"{kind}: {problem}") if problem else
                        make("ok", f"{kind}: shapes and dtypes kept, no change at strength 0"))  # fmt: skip
    return findings


def _augmentation_problem(augmentation: Augmentation, inputs: Any, targets: Any) -> str | None:
    import torch

    for strength in (0.0, *AUGMENTATION_STRENGTHS):
        try:
            copy = {key: value.clone() for key, value in inputs.items()} if isinstance(inputs, Mapping) else inputs
            copy = copy if isinstance(inputs, Mapping) else inputs.clone()
            out_inputs, out_targets = augmentation.apply(copy, targets.clone(), strength=strength,
                                                         generator=torch.Generator().manual_seed(0))  # fmt: skip
        except Exception as error:  # the finding, not a crash
            return f"apply at strength {strength} raises {type(error).__name__}: {error}"
        change = _layout_change(inputs, out_inputs) or _layout_change(targets, out_targets)
        if change:
            return f"at strength {strength}, {change}; return inputs and targets of the same shapes and dtypes"
        if strength == 0.0 and not (_unchanged(inputs, out_inputs) and torch.equal(targets, out_targets)):
            return "strength 0 changes the batch; at strength 0 return inputs and targets unchanged"
    return None


# --------------------------------------------------------------------------------------------
# Imbalance strategies
# --------------------------------------------------------------------------------------------


def _imbalanced(kind: str, task: TaskType) -> DataSplit:
    """A tiny split with a minority of about a fifth, in the layout of ``kind``."""
    splits = tiny_splits(kind, task, rows=IMBALANCE_ROWS)
    labels = np.random.default_rng(1).permutation(np.arange(IMBALANCE_ROWS) % 5 == 0).astype(np.int64)
    if task == "multiclass":
        labels = labels + (np.arange(IMBALANCE_ROWS) % 3 == 1)
    elif task == "multilabel":
        labels = np.stack([labels, 1 - labels, np.arange(IMBALANCE_ROWS) % 2], axis=1).astype(np.int64)
    return DataSplit(splits.train.inputs, labels)


def _dtypes(split: DataSplit) -> dict[str, Any]:
    return {name: np.asarray(value).dtype for name, value in _parts(split.inputs)} | {"labels": split.labels.dtype}


def check_imbalance(strategy: ImbalanceStrategy, plugin: str) -> list[Finding]:
    """Per task: ``resample`` keeps dtypes and row consistency, weights fit the rows, a loss gives a finite scalar."""
    make = _finding(plugin, "imbalance strategy", strategy.name)
    kinds = sorted(strategy.input_kinds) if strategy.input_kinds is not None else ["tabular"]
    findings = []
    for kind in kinds:
        if kind not in TINY_KINDS:
            findings.append(make("skipped", f"{kind}: no tiny data of this input kind"))
            continue
        for task in sorted(task for task in strategy.task_types if task in ("binary", "multiclass", "multilabel")):
            problem = _strategy_problem(strategy, _imbalanced(kind, task), task)  # type: ignore[arg-type]
            findings.append(make("FAIL", f"{kind}, {task}: {problem}") if problem else
                            make("ok", f"{kind}, {task}: dtypes and rows kept"))  # fmt: skip
    return findings


def _strategy_problem(strategy: ImbalanceStrategy, split: DataSplit, task: TaskType) -> str | None:
    import torch

    from autosft.engine.losses import soft_targets

    try:
        resampled = strategy.resample(split, seed=0)
        if not isinstance(resampled, DataSplit):
            return f"resample returned {type(resampled).__name__}, not a DataSplit; return DataSplit(inputs, labels)"
        if _dtypes(resampled) != _dtypes(split):
            return f"resample changed dtypes {_dtypes(split)} to {_dtypes(resampled)}; cast back to the input dtypes"
        weights = strategy.sampling_weights(split.labels) if task != "multilabel" else None
        if weights is not None and (np.shape(weights) != (len(split),) or not np.all(np.isfinite(weights))
                                    or np.any(np.asarray(weights) < 0)):  # fmt: skip
            return f"sampling_weights gave shape {np.shape(weights)}; return one finite weight >= 0 per row"
        classes = split.labels.shape[1] if task == "multilabel" else int(split.labels.max()) + 1
        loss = strategy.loss(class_counts=class_counts(split.labels, classes), task=task, device=torch.device("cpu"))
        if loss is not None:
            logits = torch.randn(len(split), classes, requires_grad=True)
            value = loss(logits, soft_targets(torch.as_tensor(split.labels), task=task, num_classes=classes,
                                              smoothing=0.0))  # fmt: skip
            if value.ndim != 0 or not torch.isfinite(value):
                return f"loss gave {tuple(value.shape)} {value.detach()}; return one finite scalar"
            value.backward()
    except Exception as error:  # the finding, not a crash
        return f"raises {type(error).__name__}: {error}"
    return None
