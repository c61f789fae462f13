"""Temperature scaling: the fit recovers a known temperature, binary and multiclass, and stops at its bounds."""

from __future__ import annotations

import numpy as np
import pytest

from autosft.evaluate.calibration import TEMPERATURE_BOUNDS, fit_temperature


def _sampled(classes: int, temperature: float, rows: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(true logits); the model's logits are the true ones times ``temperature``,
    so dividing them by ``temperature`` calibrates them exactly."""
    rng = np.random.default_rng(classes)
    true = rng.normal(scale=2.0, size=(rows, classes))
    chances = np.exp(true - true.max(axis=1, keepdims=True))
    chances /= chances.sum(axis=1, keepdims=True)
    labels = (chances.cumsum(axis=1) > rng.random((rows, 1))).argmax(axis=1)
    return true * temperature, labels


@pytest.mark.parametrize("classes", [2, 5])
@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.5])
def test_fit_recovers_a_known_temperature(classes: int, temperature: float) -> None:
    logits, labels = _sampled(classes, temperature)
    assert fit_temperature(logits, labels) == pytest.approx(temperature, rel=0.05)


def test_a_temperature_beyond_the_bounds_stops_at_the_bound() -> None:
    logits, labels = _sampled(3, 100.0, rows=2_000)
    assert fit_temperature(logits, labels) == pytest.approx(TEMPERATURE_BOUNDS[1], rel=1e-3)
