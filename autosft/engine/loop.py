"""The training loop every trial runs: one epoch of updates, then validation, then the callback
that reports to the pruner, until the plan's epochs or early stopping end it.

The loop knows nothing of Optuna: the search passes ``on_epoch``, which may raise to prune.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from autosft.components import LossFunction, class_counts
from autosft.contracts import TrialResult
from autosft.engine.data import DeviceSplit, in_length_order, iterate_batches, restore_order, to_device_split
from autosft.engine.device import DeviceSetup
from autosft.engine.job import EpochCallback, Objective, TrainedModel, TrainingJob
from autosft.engine.losses import cross_entropy, member_loss, soft_targets
from autosft.engine.model import AdaptedModel, adapt_model
from autosft.engine.optim import build_optimizer, warmup_cosine
from autosft.engine.prefix import frozen_prefix
from autosft.engine.scoring import score
from autosft.engine.seeding import seed_everything
from autosft.engine.staging import model_logits
from autosft.errors import TrialFailure

__all__ = ["EVAL_BATCH_SIZE", "predict", "predict_logits", "probabilities", "train"]

#: Gradients are clipped to this global norm: fine-tuning at a too-high rate then degrades
#: instead of diverging, which keeps the search's view of that rate informative.
MAX_GRAD_NORM = 1.0
EVAL_BATCH_SIZE = 512


@dataclass
class _TrainingData:
    """The training split after resampling, on the device, with its loss, sampler weights and forward.

    ``forward(inputs)`` gives a batch's logits: the whole model, or only the groups after a cached
    frozen prefix, whose activations then ride in the rows (see :mod:`autosft.engine.prefix`).
    """

    train_rows: DeviceSplit
    val_rows: DeviceSplit
    loss_fn: LossFunction
    sampling_weights: torch.Tensor | None
    forward: Callable[[Any], torch.Tensor]
    prefix_depth: int = 0


def _training_data(job: TrainingJob, adapted: AdaptedModel) -> _TrainingData:
    splits, seed, device = job.splits, job.plan.seed, job.device.device
    train_split = job.imbalance.resample(splits.train, seed=seed)
    counts = class_counts(train_split.labels, splits.num_classes)
    loss_fn = job.imbalance.loss(class_counts=counts, task=splits.task, device=device)
    weights = job.imbalance.sampling_weights(train_split.labels)
    prefix = frozen_prefix(job, adapted, train_split)
    if prefix is None:
        train_rows, val_rows = to_device_split(train_split, device), to_device_split(splits.val, device)
        forward: Callable[[Any], torch.Tensor] = functools.partial(model_logits, adapted.module)
    else:
        train_rows = prefix.device_split(adapted.module, train_split, "train")
        val_rows = prefix.device_split(adapted.module, splits.val, "val")
        forward = prefix.forward(adapted.module)
    return _TrainingData(
        train_rows=train_rows,
        val_rows=val_rows,
        loss_fn=loss_fn or job.loss or cross_entropy(task=splits.task),
        sampling_weights=None if weights is None else torch.as_tensor(weights, dtype=torch.float64),
        forward=forward,
        prefix_depth=0 if prefix is None else prefix.depth,
    )


@dataclass
class _EarlyStopping:
    """Tracks the best epoch of the primary objective; says when patience has run out."""

    objective: Objective
    patience: int
    best_value: float | None = None
    best_epoch: int = 0
    stale_epochs: int = 0

    def update(self, value: float, epoch: int) -> bool:
        """Record an epoch's value; return whether it is the best so far."""
        if self.objective.better(value, self.best_value):
            self.best_value, self.best_epoch, self.stale_epochs = value, epoch, 0
            return True
        self.stale_epochs += 1
        return False

    @property
    def exhausted(self) -> bool:
        return self.stale_epochs >= self.patience


def _validation_scores(job: TrainingJob, probabilities: np.ndarray) -> dict[str, float]:
    """An epoch's validation metrics, with the job's extra scores (the worst slice per metric) beside them."""
    metrics = score(job.metrics, job.splits.val.labels, probabilities)
    return metrics if job.extra_scores is None else {**metrics, **job.extra_scores(probabilities)}


def train(job: TrainingJob, *, on_epoch: EpochCallback | None = None, restore_best: bool = False) -> TrainedModel:
    """Train per the plan, validating each epoch; return the result at the best epoch.

    ``on_epoch`` sees each epoch's validation metrics and may raise (the pruner does) to stop.
    With ``restore_best`` the returned module holds the weights of the best epoch.
    """
    started = time.perf_counter()
    plan, splits = job.plan, job.splits
    generator = seed_everything(plan.seed)
    adapted = adapt_model(job.built, plan)
    adapted.module.to(job.device.device)
    data = _training_data(job, adapted)
    timings = {"data_seconds": time.perf_counter() - started, "train_seconds": 0.0, "eval_seconds": 0.0}
    steps_per_epoch = math.ceil(len(data.train_rows) / plan.batch_size)
    optimizer = build_optimizer(adapted.module, learning_rate=plan.learning_rate, weight_decay=plan.weight_decay,
                                include_frozen=not adapted.lora, device=job.device.device)  # fmt: skip
    scheduler = warmup_cosine(optimizer, total_steps=steps_per_epoch * plan.epochs, warmup_ratio=plan.warmup_ratio)
    scaler = torch.amp.GradScaler(enabled=job.device.needs_grad_scaler)
    counts = adapted.parameter_counts()  # at the start: gradual unfreezing raises it later
    stopping = _EarlyStopping(job.objectives[0], plan.patience)
    history: list[dict[str, float]] = []
    notes = [f"trained on cached activations of layer groups 1-{data.prefix_depth}"] if data.prefix_depth else []
    best_state = None
    if plan.epochs == 0:  # the model as built (a pre-trained model as is): validated once as "epoch 0"
        metrics = _validation_scores(job, predict(adapted.module, data.val_rows, job.device, splits.task,
                                                  forward=data.forward))  # fmt: skip
        history.append({"epoch": 0.0, "train_loss": math.nan, **metrics})
        if on_epoch is not None:
            on_epoch(0, history[-1])
        stopping.update(metrics[stopping.objective.metric], 0)
    for epoch in range(1, plan.epochs + 1):
        if plan.unfreeze_every and epoch > 1 and (epoch - 1) % plan.unfreeze_every == 0:
            thawed = adapted.unfreeze_next()
            if thawed:
                notes.append(f"epoch {epoch}: unfroze {', '.join(thawed)}")
        tick = time.perf_counter()
        train_loss = _train_epoch(job, adapted, data, optimizer, scheduler, scaler, generator, epoch)
        tock = time.perf_counter()
        probabilities = predict(adapted.module, data.val_rows, job.device, splits.task, forward=data.forward,
                                batch_size=max(1, EVAL_BATCH_SIZE // job.accumulation))  # fmt: skip
        metrics = _validation_scores(job, probabilities)
        timings["train_seconds"] += tock - tick
        timings["eval_seconds"] += time.perf_counter() - tock
        history.append({"epoch": float(epoch), "train_loss": train_loss, **metrics})
        if on_epoch is not None:
            on_epoch(epoch, history[-1])
        if stopping.update(metrics[stopping.objective.metric], epoch) and restore_best:
            best_state = copy.deepcopy(adapted.module.state_dict())
        if stopping.exhausted:
            break
    if stopping.best_value is None:
        raise TrialFailure(
            f"the objective {stopping.objective.metric} was never a number on validation (is a class missing?)"
        )
    if best_state is not None:
        adapted.module.load_state_dict(best_state)
    timings["total_seconds"] = time.perf_counter() - started
    result = _result(job, history, stopping.best_epoch, timings, counts, notes)
    return TrainedModel(result, adapted.module)


def _result(
    job: TrainingJob,
    history: list[dict[str, float]],
    best_epoch: int,
    timings: dict[str, float],
    parameter_counts: tuple[int, int],
    notes: list[str],
) -> TrialResult:
    best = history[best_epoch - 1] if best_epoch else history[0]  # best_epoch 0: the untrained model
    best_metrics = {key: value for key, value in best.items() if key != "epoch"}
    return TrialResult(
        values=[best_metrics[objective.metric] for objective in job.objectives],
        best_epoch=best_epoch,
        epochs_run=len(history),
        metrics=best_metrics,
        history=history,
        timings=timings,
        trainable_parameters=parameter_counts[0],
        total_parameters=parameter_counts[1],
        stopped_early=len(history) < job.plan.epochs,
        notes=notes,
    )


def _train_epoch(
    job: TrainingJob,
    adapted: AdaptedModel,
    data: _TrainingData,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    generator: torch.Generator,
    epoch: int,
) -> float:
    """One pass of updates; returns the mean training loss. A non-finite loss fails the trial."""
    plan, splits = job.plan, job.splits
    adapted.train_mode()
    total, batches = 0.0, 0
    # drop_last avoids a final batch of one row, which makes normalization layers and the
    # gradient estimate misbehave; it only applies when the split holds more than one batch.
    batches_of = iterate_batches(data.train_rows, plan.batch_size, generator=generator,
                                 sampling_weights=data.sampling_weights, drop_last=True)  # fmt: skip
    for inputs, labels in batches_of:
        targets = soft_targets(labels, task=splits.task, num_classes=splits.num_classes, smoothing=plan.label_smoothing)
        if job.augmentation is not None and plan.augmentation_strength > 0:
            inputs, targets = job.augmentation.apply(inputs, targets, strength=plan.augmentation_strength,
                                                     generator=generator)  # fmt: skip
        loss = _accumulate_gradients(job, data, inputs, targets, scaler)
        if not math.isfinite(loss):
            raise TrialFailure(
                f"training loss became {loss} at epoch {epoch}, batch {batches + 1} "
                f"(learning_rate={plan.learning_rate:.3g}); the trial is failed, the search goes on"
            )
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_([p for p in adapted.module.parameters() if p.grad is not None], MAX_GRAD_NORM)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        # Free the gradients now rather than at the next backward: peak memory drops by their size.
        optimizer.zero_grad(set_to_none=True)
        total += loss
        batches += 1
    return total / max(batches, 1)


def _accumulate_gradients(
    job: TrainingJob, data: _TrainingData, inputs: Any, targets: torch.Tensor, scaler: torch.amp.GradScaler
) -> float:
    """Backpropagate one batch in ``job.accumulation`` micro-batches; return the batch's mean loss.

    Each micro-batch's (row-mean) loss is weighted by its share of the rows, so the accumulated
    gradient is the whole batch's; a non-finite loss is returned before any backward pass.
    """
    rows = len(targets)
    micro = math.ceil(rows / job.accumulation)
    total = 0.0
    for start in range(0, rows, micro):
        part = slice(start, start + micro)
        with job.device.autocast():
            logits = data.forward(_rows(inputs, part))
            loss = member_loss(data.loss_fn, logits, targets[part]) * (len(targets[part]) / rows)
        if not torch.isfinite(loss):
            return float(loss.item())
        scaler.scale(loss).backward()
        total += loss.item()
    return total


def _rows(inputs: Any, part: slice) -> Any:
    if isinstance(inputs, Mapping):
        return {name: tensor[part] for name, tensor in inputs.items()}
    return inputs[part]


@torch.no_grad()
def predict_logits(
    module: torch.nn.Module,
    rows: DeviceSplit,
    device: DeviceSetup,
    *,
    forward: Callable[[Any], torch.Tensor] | None = None,
    batch_size: int = EVAL_BATCH_SIZE,
) -> torch.Tensor:
    """Raw float32 logits (rows, classes) on the CPU in stored order, in eval mode, ``batch_size`` rows at a time.

    ``forward`` replaces ``module(inputs)`` (e.g. to start after a cached frozen prefix).
    """
    module.eval()
    forward = forward or functools.partial(model_logits, module)
    indices, chunks = [], []
    for index, inputs in in_length_order(rows, batch_size):
        with device.autocast():
            chunks.append(forward(inputs).float())
        indices.append(index)
    return restore_order(indices, chunks).cpu()


def predict(
    module: torch.nn.Module,
    rows: DeviceSplit,
    device: DeviceSetup,
    task: str,
    *,
    forward: Callable[[Any], torch.Tensor] | None = None,
    batch_size: int = EVAL_BATCH_SIZE,
    temperature: float = 1.0,
) -> np.ndarray:
    """Class probabilities (rows, classes) in stored order: :func:`probabilities` of :func:`predict_logits`."""
    logits = predict_logits(module, rows, device, forward=forward, batch_size=batch_size)
    return probabilities(logits, task, temperature=temperature)


def probabilities(logits: torch.Tensor, task: str, *, temperature: float = 1.0) -> np.ndarray:
    """Softmax (sigmoid for multilabel) of ``logits / temperature`` as float64.

    Always computed on the CPU in float32, so an export and a reloaded model on any device turn the
    same logits into bit-identical probabilities; ``temperature`` is the calibration's
    (:mod:`autosft.evaluate.calibration`), 1 for the model as trained. A softmax row is renormalised
    in float64, where float32 rounding leaves it off 1 by about 1e-7: scikit-learn's log loss checks
    the sum at float64 precision and warns on every call otherwise.
    """
    scaled = logits.cpu().float() / temperature  # exact for 1: the default path is unchanged
    if task == "multilabel":
        return torch.sigmoid(scaled).double().numpy()
    rows = torch.softmax(scaled, dim=-1).double().numpy()
    return rows / rows.sum(axis=-1, keepdims=True)
