"""Reading module trees: which children hold weights, and the shallowest list of layers under a child."""

from __future__ import annotations

from torch import nn

from autosft.engine.structure import has_parameters, shallowest_layers


def _encoder() -> nn.Module:
    encoder = nn.Module()
    # Each layer holds an inner ModuleList of its own: the outer list must win, being shallower.
    encoder.layer = nn.ModuleList(nn.ModuleList([nn.Linear(2, 2)]) for _ in range(3))
    return encoder


def test_the_shallowest_list_wins_over_lists_inside_its_items() -> None:
    assert shallowest_layers(_encoder(), "base.encoder") == [
        "base.encoder.layer.0",
        "base.encoder.layer.1",
        "base.encoder.layer.2",
    ]


def test_items_without_weights_are_left_out_only_when_asked() -> None:
    stages = nn.ModuleList([nn.Linear(2, 2), nn.MaxPool2d(2), nn.Linear(2, 2)])
    assert shallowest_layers(stages, "s") == ["s.0", "s.1", "s.2"]
    assert shallowest_layers(stages, "s", with_parameters_only=True) == ["s.0", "s.2"]


def test_no_list_and_no_weights() -> None:
    assert shallowest_layers(nn.Sequential(nn.Linear(2, 2)), "embeddings") is None
    assert not has_parameters(nn.Dropout())
    assert has_parameters(nn.Sequential(nn.ReLU(), nn.Linear(2, 2)))
