"""The training engine on a real tiny MLP: freezing, gradual unfreezing, LoRA, early stopping,
non-finite losses, determinism."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from autosft.contracts import TrialPlan
from autosft.engine.device import pick_device
from autosft.engine.loop import train
from autosft.engine.seeding import seeded, single_thread
from autosft.engine.trial import training_job
from autosft.errors import TrialFailure
from autosft.search.prepare import PreparedStudy

CPU = pick_device("cpu")
BASE_PLAN = TrialPlan(
    learning_rate=1e-2, batch_size=32, epochs=3, warmup_ratio=0.0, weight_decay=0.0, dropout=0.0,
    label_smoothing=0.0, patience=5, adaptation="full", seed=0,
)  # fmt: skip


def _weights(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}


def _train(prepared: PreparedStudy, **changes):
    plan = dataclasses.replace(BASE_PLAN, **changes)
    job = training_job(prepared, plan, CPU)
    before = _weights(job.built.module)
    trained = train(job)
    return before, trained


def _changed(before: dict[str, torch.Tensor], module: nn.Module, prefix: str) -> bool:
    after = module.state_dict()
    return any(not torch.equal(before[name], after[name]) for name in before if name.startswith(prefix))


def test_full_fine_tuning_learns(prepared: PreparedStudy) -> None:
    _, trained = _train(prepared)
    result = trained.result
    assert result.values[0] > 0.85  # toy clusters are separable
    assert result.trainable_parameters == result.total_parameters
    assert len(result.history) == 3 and {"train_loss", "roc_auc", "f1"} <= set(result.history[0])


def test_freezing_keeps_the_input_side_fixed(prepared: PreparedStudy) -> None:
    before, trained = _train(prepared, adaptation="freeze", freeze_depth=2)
    module = trained.module
    assert not _changed(before, module, "input.")
    assert not _changed(before, module, "blocks.0.")
    assert _changed(before, module, "blocks.1.")
    assert _changed(before, module, "head.")
    assert trained.result.trainable_parameters < trained.result.total_parameters


def test_gradual_unfreezing_thaws_from_the_output_side(prepared: PreparedStudy) -> None:
    before, trained = _train(prepared, adaptation="freeze", freeze_depth=2, unfreeze_every=1, epochs=3)
    assert _changed(before, trained.module, "blocks.0.")  # thawed at epoch 2
    assert _changed(before, trained.module, "input.")  # thawed at epoch 3
    assert trained.result.notes == ["epoch 2: unfroze blocks.0", "epoch 3: unfroze input"]
    before, trained = _train(prepared, adaptation="freeze", freeze_depth=2, unfreeze_every=2, epochs=3)
    assert _changed(before, trained.module, "blocks.0.")  # thawed at epoch 3
    assert not _changed(before, trained.module, "input.")


def test_lora_trains_adapters_and_head_only(prepared: PreparedStudy) -> None:
    plan = dataclasses.replace(BASE_PLAN, adaptation="lora", lora_rank=4, lora_alpha=8, lora_targets="all")
    job = training_job(prepared, plan, CPU)
    base_before = {name: p.detach().clone() for name, p in job.built.module.named_parameters()}
    trained = train(job)
    named = dict(trained.module.named_parameters())
    lora = [name for name in named if "lora_" in name]
    assert lora and all(named[name].requires_grad for name in lora)
    base_linear = next(name for name in named if name.endswith("input.0.base_layer.weight"))
    assert torch.equal(named[base_linear], base_before["input.0.weight"])
    assert trained.result.trainable_parameters < trained.result.total_parameters
    assert trained.result.values[0] > 0.8


def test_dropout_override_reaches_every_dropout(prepared: PreparedStudy) -> None:
    _, trained = _train(prepared, dropout=0.37, epochs=1)
    rates = {m.p for m in trained.module.modules() if isinstance(m, nn.Dropout)}
    assert rates == {0.37}


def test_early_stopping_ends_a_flat_run(prepared: PreparedStudy) -> None:
    _, trained = _train(prepared, learning_rate=1e-12, epochs=6, patience=1)
    assert trained.result.stopped_early
    assert trained.result.epochs_run == 2


def test_non_finite_loss_fails_with_a_reason(prepared: PreparedStudy) -> None:
    with pytest.raises(TrialFailure, match=r"training loss became (nan|inf) at epoch 1"):
        _train(prepared, learning_rate=1e30, batch_size=16)


def test_same_plan_same_result(prepared: PreparedStudy) -> None:
    _, first = _train(prepared, imbalance="oversample", dropout=0.2)
    _, second = _train(prepared, imbalance="oversample", dropout=0.2)
    assert first.result.history == second.result.history


@pytest.mark.parametrize("imbalance", ["class_weights", "focal", "oversample"])
def test_imbalance_strategies_train(prepared: PreparedStudy, imbalance: str) -> None:
    _, trained = _train(prepared, imbalance=imbalance, label_smoothing=0.1)
    assert trained.result.values[0] > 0.8


def test_seeded_draws_from_the_seed_and_leaves_the_callers_sequence_alone() -> None:
    torch.manual_seed(7)
    expected_next = torch.rand(3)
    torch.manual_seed(7)
    with seeded(11):
        inside = torch.rand(3)
    torch.manual_seed(11)
    assert torch.equal(inside, torch.rand(3))
    torch.manual_seed(7)
    with seeded(11):
        torch.rand(5)
    assert torch.equal(torch.rand(3), expected_next)


def test_single_thread_restores_the_callers_thread_count_even_on_error() -> None:
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="inside"), single_thread():
        assert torch.get_num_threads() == 1
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before
