"""Calibration of the model's logits, fitted on validation by minimising negative log-likelihood.

Two forms:

- temperature scaling (Guo et al. 2017): ``softmax(z / T)``, one scalar;
- bias-corrected temperature scaling (BCTS, Alexandari et al. 2020): ``softmax(z / T + b)`` with one
  bias per class (the first fixed at 0). Class-weighted training shifts every logit toward the
  minority classes; a temperature cannot undo a shift, so temperature-only probabilities over-state
  the minority classes on average. With the bias, the mean calibrated probability of a class matches
  its share in data like the validation set, which is what makes "expected share" trends honest.

NLL is convex in the inverse temperature and the biases jointly (a linear term plus a log-sum-exp of
an affine function of the parameters), so one bounded quasi-Newton run finds the global optimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import log_softmax, softmax

T_MIN = 0.05
T_MAX = 20.0
# Fewer validation rows of a class than this and its bias would fit noise: temperature only then.
MIN_ROWS_PER_CLASS_FOR_BIAS = 20


def _validate(logits: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(y)
    if z.ndim != 2 or z.shape[1] < 2:
        raise ValueError(f"logits must be 2-D (n_samples, n_classes>=2); got shape {z.shape}")
    if labels.ndim != 1 or len(labels) != len(z):
        raise ValueError(f"y must be 1-D with one class index per logits row; got {labels.shape} vs {z.shape}")
    if len(z) == 0:
        raise ValueError("cannot fit a temperature on an empty validation set")
    if not np.isfinite(z).all():
        raise ValueError("logits contain NaN/inf; check the model output before calibrating")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= z.shape[1]:
        raise ValueError(f"y must hold integer class indices in [0, {z.shape[1] - 1}]")
    return z, labels.astype(np.int64)


def nll(logits: np.ndarray, y: np.ndarray, t: float = 1.0) -> float:
    """Mean negative log-likelihood of the true class after dividing logits by ``t``."""
    z, labels = _validate(logits, y)
    logp = log_softmax(z / t, axis=1)
    return float(-logp[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature in [0.05, 20] minimising validation NLL; > 1 softens an overconfident model."""
    z, labels = _validate(logits, y)
    rows = np.arange(len(labels))

    def objective(beta: float) -> float:
        logp = log_softmax(z * beta, axis=1)
        return float(-logp[rows, labels].mean())

    res = minimize_scalar(objective, bounds=(1.0 / T_MAX, 1.0 / T_MIN), method="bounded", options={"xatol": 1e-6})
    beta = float(res.x)
    # Never return something worse than leaving the model uncalibrated.
    if objective(1.0) <= objective(beta):
        return 1.0
    return float(np.clip(1.0 / beta, T_MIN, T_MAX))


def apply_temperature(logits: np.ndarray, t: float) -> np.ndarray:
    """Softmax of ``logits / t`` (rows sum to 1)."""
    if not t > 0:
        raise ValueError(f"temperature must be > 0; got {t}")
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"logits must be 2-D (n_samples, n_classes); got shape {z.shape}")
    return softmax(z / t, axis=1)


@dataclass(frozen=True)
class Calibration:
    """``softmax(logits / temperature + class_bias)``; ``class_bias`` None means temperature only."""

    temperature: float
    class_bias: tuple[float, ...] | None = None

    def probs(self, logits: np.ndarray) -> np.ndarray:
        return calibrated_probs(logits, self.temperature, self.class_bias)


def calibrated_probs(logits: np.ndarray, temperature: float, class_bias: tuple[float, ...] | list[float] | None) -> np.ndarray:
    """Softmax of ``logits / temperature + class_bias`` (rows sum to 1)."""
    if class_bias is None:
        return apply_temperature(logits, temperature)
    z = np.asarray(logits, dtype=np.float64)
    bias = np.asarray(class_bias, dtype=np.float64)
    if z.ndim != 2 or bias.shape != (z.shape[1],):
        raise ValueError(f"class_bias needs one value per class ({z.shape[-1]}); got {bias.shape}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0; got {temperature}")
    return softmax(z / temperature + bias, axis=1)


def fit_calibration(logits: np.ndarray, y: np.ndarray) -> Calibration:
    """Bias-corrected temperature scaling; temperature only when a class has too few validation rows.

    Never returns something with a higher validation NLL than the temperature alone.
    """
    z, labels = _validate(logits, y)
    temperature = fit_temperature(z, labels)
    counts = np.bincount(labels, minlength=z.shape[1])
    if counts.min() < MIN_ROWS_PER_CLASS_FOR_BIAS:
        return Calibration(temperature)
    rows = np.arange(len(labels))
    k = z.shape[1]

    def objective(w: np.ndarray) -> float:
        logp = log_softmax(z * w[0] + np.concatenate(([0.0], w[1:])), axis=1)
        return float(-logp[rows, labels].mean())

    start = np.concatenate(([1.0 / temperature], np.zeros(k - 1)))
    bounds = [(1.0 / T_MAX, 1.0 / T_MIN)] + [(-10.0, 10.0)] * (k - 1)
    res = minimize(objective, start, method="L-BFGS-B", bounds=bounds)
    if not res.success or objective(res.x) >= objective(start):
        return Calibration(temperature)
    beta = float(res.x[0])
    bias = tuple(float(b) for b in np.concatenate(([0.0], res.x[1:])))
    return Calibration(float(np.clip(1.0 / beta, T_MIN, T_MAX)), bias)
