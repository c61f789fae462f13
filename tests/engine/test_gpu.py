"""GPU training: mixed precision and device placement. Runs with `-m gpu` on a CUDA machine."""

from __future__ import annotations

import pytest
import torch

from autosft.config import parse_study
from autosft.contracts import TrialPlan
from autosft.engine.device import pick_device
from autosft.engine.loop import train
from autosft.engine.trial import training_job
from autosft.errors import ConfigError
from autosft.search.prepare import prepare_study
from autosft.testing import toy_manager, toy_study

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("adaptation", ["full", "freeze", "lora"])
def test_trains_on_the_gpu_with_autocast(adaptation: str) -> None:
    setup = pick_device("cuda")
    assert setup.autocast_dtype in {torch.bfloat16, torch.float16}
    prepared = prepare_study(parse_study(toy_study("sqlite:///unused.db"), where="s"), toy_manager())
    plan = TrialPlan(
        learning_rate=1e-2,
        batch_size=32,
        epochs=3,
        warmup_ratio=0.0,
        weight_decay=0.0,
        dropout=0.0,
        label_smoothing=0.0,
        patience=5,
        adaptation=adaptation,
        freeze_depth=1,
        lora_targets="all",
    )
    trained = train(training_job(prepared, plan, setup))
    assert next(trained.module.parameters()).device.type == "cuda"
    assert trained.result.values[0] > 0.8


def test_a_missing_gpu_index_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="CUDA device"):
        pick_device(f"cuda:{torch.cuda.device_count()}")
