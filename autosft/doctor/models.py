"""The doctor's checks of a model builder: it builds, its layer groups and LoRA targets exist, and
every freezing depth and LoRA target set trains (a forward and backward pass with the task's output
shape) through the engine's own adaptation; stages, if any, agree with the whole model.

Each variant is a fresh build, adapted by :func:`autosft.engine.model.adapt_model` as a trial would be.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from pydantic import BaseModel

from autosft.components import BuiltModel, DataSplit, ModelBuilder, Splits
from autosft.contracts import TrialPlan
from autosft.doctor.findings import Finding, Status
from autosft.errors import AutosftError, PluginError

__all__ = ["check_builder", "encoded"]

#: Rows of one forward and backward pass.
STEP_ROWS = 4
#: The plan the variants are adapted with; only adaptation, depth and LoRA targets vary.
BASE_PLAN = TrialPlan(learning_rate=1e-3, batch_size=STEP_ROWS, epochs=1, warmup_ratio=0.0, weight_decay=0.0,
                      dropout=0.1, label_smoothing=0.0, patience=1, adaptation="full")  # fmt: skip


def encoded(builder: ModelBuilder, options: BaseModel, splits: Splits) -> Splits:
    """``splits`` as the builder's models see them: through its input encoder (a tokenizer), if any."""
    encoder = builder.input_encoder(options, splits)
    if encoder is None:
        return splits
    from autosft.engine.cache import encode_splits

    return encode_splits(splits, encoder, disk=False)


def _rows(split: DataSplit, rows: int) -> DataSplit:
    inputs = split.inputs
    head = {key: value[:rows] for key, value in inputs.items()} if isinstance(inputs, Mapping) else inputs[:rows]
    return DataSplit(head, split.labels[:rows])


def _train_step(adapted: Any, built: BuiltModel, splits: Splits) -> str | None:
    """One forward and backward pass; what is wrong with it, or ``None``."""
    import torch

    from autosft.engine.data import to_device_split
    from autosft.engine.losses import cross_entropy, member_loss, soft_targets
    from autosft.engine.staging import model_logits

    batch = to_device_split(_rows(splits.train, STEP_ROWS), torch.device("cpu"))
    adapted.train_mode()
    logits = model_logits(adapted.module, batch.inputs)
    expected = (len(batch), splits.num_classes)
    # An ensemble trains each member apart: (rows, members, classes) in training mode (BuiltModel's contract).
    ensemble = logits.ndim == 3 and logits.shape[0] == expected[0] and logits.shape[2] == expected[1]
    if tuple(logits.shape) != expected and not ensemble:
        return (f"{len(batch)} rows give logits of shape {tuple(logits.shape)}, expected {expected} "
                f"(one logit per class, 2 for binary); make the head output {splits.num_classes} values")  # fmt: skip
    targets = soft_targets(batch.labels, task=splits.task, num_classes=splits.num_classes, smoothing=0.0)
    loss = member_loss(cross_entropy(task=splits.task), logits, targets)
    if not torch.isfinite(loss):
        return f"the loss of the forward pass is {loss.item()}; the logits are not finite"
    loss.backward()
    trained = [p for p in adapted.module.parameters() if p.requires_grad]
    if not any(p.grad is not None and torch.any(p.grad != 0) for p in trained):
        return "the backward pass gives no trainable parameter a gradient; the logits must depend on trained weights"
    for group in adapted.frozen_groups:
        for name in group:
            if any(p.grad is not None for p in adapted.module.get_submodule(name).parameters()):
                return f"frozen group {name!r} got a gradient; its parameters must be part of that submodule"
    return None


def _variant_problem(build: Callable[[], BuiltModel], plan: TrialPlan, splits: Splits) -> str | None:
    from autosft.engine.model import adapt_model

    try:
        built = build()
        return _train_step(adapt_model(built, plan), built, splits)
    except Exception as error:  # the finding, not a crash of the doctor
        return f"{type(error).__name__}: {error}"


def _variants(built: BuiltModel) -> list[tuple[str, TrialPlan]]:
    plans = [("full training", BASE_PLAN)]
    plans += [(f"freeze depth {depth}", replace(BASE_PLAN, adaptation="freeze", freeze_depth=depth))
              for depth in range(1, len(built.layer_groups))]  # fmt: skip
    plans += [(f"LoRA {target!r}", replace(BASE_PLAN, adaptation="lora", lora_targets=target))
              for target in built.lora_targets]  # fmt: skip
    return plans


def _structure_problem(built: Any, name: str, plugin: str, splits: Splits) -> str | None:
    """What is wrong with the probe build itself (type, groups, names, eval forward), or ``None``."""
    from autosft.search.probe import check_forward, check_structure

    if not isinstance(built, BuiltModel):
        return (f"build() returned {type(built).__name__}, not a BuiltModel; "
                "return BuiltModel(module, layer_groups, ...)")  # fmt: skip
    if not built.layer_groups:
        return "declares no layer groups; list the module's submodules, input side first, the head last"
    try:
        check_structure(built, name, plugin)
        check_forward(built, splits, name, plugin)
    except PluginError as error:
        return str(error).removeprefix(f"model {name!r} of plugin {plugin!r}: ")
    return None


def _stages_finding(built: BuiltModel, splits: Splits, make: Callable[[Status, str], Finding]) -> Finding | None:
    if built.stages is None:
        return None
    import torch

    from autosft.engine.data import to_device_split
    from autosft.engine.staging import stages_agree

    inputs = to_device_split(_rows(splits.val, STEP_ROWS), torch.device("cpu")).inputs
    if stages_agree(built.stages, built.module, inputs, len(built.layer_groups)):
        return make("ok", "stages give the whole model's logits from every group boundary")
    return make("FAIL", "stages differ from (or fail where) the whole model runs; fix stages.run, or leave "
                        "stages out (the activation cache is then off)")  # fmt: skip


def _runs(built: Any, splits: Splits) -> str | None:
    """Why a forward pass of ``built`` on a few rows raises, or ``None`` (also when it is no ``BuiltModel``)."""
    if not isinstance(built, BuiltModel):
        return None
    import torch

    from autosft.engine.data import to_device_split
    from autosft.engine.staging import model_logits

    built.module.eval()
    try:
        with torch.no_grad():
            model_logits(built.module, to_device_split(_rows(splits.val, STEP_ROWS), torch.device("cpu")).inputs)
    except Exception as error:  # these data are not what the model takes
        return f"{type(error).__name__}: {error}"
    return None


def check_builder(
    builder: ModelBuilder, plugin: str, options: BaseModel, own: Sequence[Splits], generated: Sequence[Splits]
) -> list[Finding]:
    """Build on the plugin's own example splits, else on the first generated splits the builder builds
    and runs on (a builder need not check its input kind), then check the build and every variant."""

    def make(status: Status, detail: str) -> Finding:
        return Finding(status, plugin, "model", builder.name, detail)

    reasons, crashed = [], False
    for index, splits in enumerate([*own, *generated]):
        is_own = index < len(own)  # the plugin's own data: anything that goes wrong on them is a failure
        data = f"{splits.input_kind} {splits.task} data"
        try:
            splits = encoded(builder, options, splits)
            built = builder.build(options, splits, seed=0)
        except AutosftError as error:  # the builder does not take these data: try the next
            reasons.append(f"{data}: {error}")
            continue
        except Exception as error:
            if is_own:
                return [make("FAIL", f"build() on {data} raises {type(error).__name__}: {error}")]
            reasons.append(f"{data}: build() raises {type(error).__name__}: {error}")
            crashed = True
            continue
        problem = None if is_own else _runs(built, splits)
        if problem:
            reasons.append(f"{data}: a forward pass raises {problem}")
            crashed = True
            continue
        return _check_built(builder, plugin, options, splits, built, make)
    advice = "give the plugin a loader with an example() of the data it takes"
    return [make("FAIL" if crashed else "skipped", "builds and runs on none of the tiny data ("
                 + "; ".join(reasons) + f"); {advice}")]  # fmt: skip


def _check_built(builder: ModelBuilder, plugin: str, options: BaseModel, splits: Splits, built: Any,
                 make: Callable[[Status, str], Finding]) -> list[Finding]:  # fmt: skip
    data = f"on {splits.input_kind} {splits.task} data"
    problem = _structure_problem(built, builder.name, plugin, splits)
    if problem:
        return [make("FAIL", f"{data}: {problem}")]
    findings = [make("ok", f"builds {data}: {len(built.layer_groups)} layer groups, LoRA target sets: "
                           f"{', '.join(built.lora_targets) or 'none'}")]  # fmt: skip
    passed = []
    for label, plan in _variants(built):
        problem = _variant_problem(lambda: builder.build(options, splits, seed=0), plan, splits)
        if problem:
            findings.append(make("FAIL", f"{label}: {problem}"))
        else:
            passed.append(label)
    if passed:
        findings.append(make("ok", f"forward and backward give ({STEP_ROWS}, {splits.num_classes}) logits: "
                                   + ", ".join(passed)))  # fmt: skip
    stages = _stages_finding(built, splits, make)
    return findings + ([stages] if stages else [])
