"""A Hugging Face checkpoint kept once: weights copied out of the loaded model, fresh keys left to the new module."""

from __future__ import annotations

import torch
from torch import nn

from autosft.engine.hf import Checkpoint


def _model(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))


def test_pretrained_weights_are_copied_and_fresh_keys_kept_from_the_new_module() -> None:
    loaded = _model(0)
    info = {"missing_keys": ["1.bias"], "mismatched_keys": [("1.weight", (2, 4), (2, 4))]}
    checkpoint = Checkpoint.loaded(loaded, info)
    assert checkpoint.fresh_keys == {"1.bias", "1.weight"}
    with torch.no_grad():
        loaded[0].weight.add_(1.0)  # the checkpoint holds a copy, not the loaded model's tensors
    fresh = _model(1)
    drawn = fresh[1].weight.detach().clone()
    built = checkpoint.copy_into(fresh)
    assert torch.equal(built[0].weight, _model(0)[0].weight)
    assert torch.equal(built[1].weight, drawn)
    assert built[0].weight.data_ptr() != checkpoint.state["0.weight"].data_ptr()
