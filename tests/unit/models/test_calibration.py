"""Temperature scaling and its bias-corrected form: recover known parameters, never worsen NLL."""

from __future__ import annotations

import numpy as np
import pytest

from models.calibration import Calibration, apply_temperature, calibrated_probs, fit_calibration, fit_temperature, nll


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


def test_bias_correction_recovers_a_shift_and_makes_mean_probability_the_share() -> None:
    # Logits pushed toward class 0 by +1.2 (what class-weighted training does to a minority class)
    # and made overconfident by 1.5: temperature alone over-states class 0's share, the bias fixes it.
    rng = np.random.default_rng(3)
    calibrated = rng.normal(scale=1.5, size=(6000, 3)) + np.array([0.0, 0.8, 0.2])
    y = sample(calibrated, 4)
    shifted = (calibrated + np.array([1.2, 0.0, 0.0])) * 1.5
    share = np.bincount(y, minlength=3) / len(y)
    temperature_only = apply_temperature(shifted, fit_temperature(shifted, y)).mean(axis=0)
    cal = fit_calibration(shifted, y)
    assert cal.class_bias is not None and cal.class_bias[0] == 0.0
    assert cal.temperature == pytest.approx(1.5, rel=0.08)
    # Relative to class 0: the fitted bias undoes the +1.2 (class 1 and 2 get ≈ +1.2 / temperature scale).
    assert cal.class_bias[1] == pytest.approx(1.2, abs=0.15)
    assert np.abs(cal.probs(shifted).mean(axis=0) - share).max() < 0.01
    assert temperature_only[0] - share[0] > 0.03
    assert nll(np.log(cal.probs(shifted)), y) < nll(shifted, y, fit_temperature(shifted, y))


def test_bias_needs_enough_rows_per_class() -> None:
    logits = np.random.default_rng(0).normal(size=(60, 3))
    y = np.array([0] * 30 + [1] * 25 + [2] * 5)
    cal = fit_calibration(logits, y)
    assert cal.class_bias is None
    assert cal.probs(logits) == pytest.approx(apply_temperature(logits, cal.temperature))


def test_scorer_softmax_matches_the_fitted_calibration() -> None:
    from models.scoring.scorer import calibrated_softmax

    logits = np.random.default_rng(5).normal(size=(50, 3)).astype(np.float32)
    cal = Calibration(1.3, (0.0, 0.4, -0.2))
    assert calibrated_softmax(logits, 1.3, [0.0, 0.4, -0.2]) == pytest.approx(cal.probs(logits), abs=1e-5)
    assert calibrated_softmax(logits, 1.3) == pytest.approx(apply_temperature(logits, 1.3), abs=1e-5)
    with pytest.raises(ValueError, match="one value per class"):
        calibrated_probs(logits, 1.0, (0.0, 1.0))


def test_decisions_ignore_the_class_bias() -> None:
    from models.scoring.scorer import calibrated_softmax, decide

    logits = np.random.default_rng(7).normal(size=(400, 3)).astype(np.float32)
    bias = [0.0, 0.9, -0.6]
    labels = ["negative", "neutral", "positive"]
    plain = decide(calibrated_softmax(logits, 1.2), labels, "negative", 0.4)
    biased = calibrated_softmax(logits, 1.2, bias)
    assert (decide(biased, labels, "negative", 0.4, bias) == plain).all()
    assert (decide(biased, labels, "negative", 0.4) != plain).any()  # the bias alone would move decisions
