"""Temperature scaling (Guo et al. 2017): one scalar that divides the logits before softmax.

Fitted on validation logits by minimising negative log-likelihood. NLL is convex in the inverse
temperature beta = 1/T (it is beta-linear term plus a log-sum-exp of beta-scaled logits), so a bounded
1-D search over beta finds the global optimum without the restarts a gradient method would need.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

T_MIN = 0.05
T_MAX = 20.0


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
