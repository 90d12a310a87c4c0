"""Temperature scaling recovers known temperatures and never worsens NLL."""

from __future__ import annotations

import numpy as np
import pytest

from models.calibration import apply_temperature, fit_temperature, nll


def sample(true_logits: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = apply_temperature(true_logits, 1.0)
    return np.array([rng.choice(p.shape[1], p=row) for row in p])


def test_recovers_overconfidence() -> None:
    rng = np.random.default_rng(1)
    calibrated = rng.normal(scale=1.5, size=(4000, 3))
    y = sample(calibrated, 2)
    overconfident = calibrated * 3.0  # a model whose logits are 3x too sharp
    t = fit_temperature(overconfident, y)
    assert t > 1.0
    assert t == pytest.approx(3.0, rel=0.1)
    assert nll(overconfident, y, t) < nll(overconfident, y, 1.0)


def test_recovers_underconfidence() -> None:
    rng = np.random.default_rng(3)
    calibrated = rng.normal(scale=2.0, size=(4000, 3))
    y = sample(calibrated, 4)
    t = fit_temperature(calibrated / 2.0, y)
    assert t == pytest.approx(0.5, rel=0.1)


def test_separable_data_stays_bounded() -> None:
    logits = np.array([[5.0, -5.0], [-5.0, 5.0]] * 10)
    y = np.array([0, 1] * 10)
    t = fit_temperature(logits, y)
    assert 0.05 <= t < 1.0  # sharper is better, but the bound keeps it finite


def test_apply_temperature_rows_sum_to_one_and_soften() -> None:
    logits = np.array([[2.0, 0.0, -1.0]])
    p1, p2 = apply_temperature(logits, 1.0), apply_temperature(logits, 2.0)
    assert p1.sum() == pytest.approx(1.0) and p2.sum() == pytest.approx(1.0)
    assert p2.max() < p1.max()
    with pytest.raises(ValueError, match="temperature"):
        apply_temperature(logits, 0.0)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="NaN"):
        fit_temperature(np.array([[np.nan, 1.0]]), np.array([0]))
    with pytest.raises(ValueError, match="class index"):
        fit_temperature(np.zeros((2, 3)), np.array([0]))
    with pytest.raises(ValueError, match="integer class indices"):
        fit_temperature(np.zeros((2, 3)), np.array([0, 3]))
