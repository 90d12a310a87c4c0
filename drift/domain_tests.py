"""Two-sample tests for input drift, stated as a domain classifier's ROC-AUC (0.5: the live posts and the
reference posts cannot be told apart; 1.0: always).

- :func:`domain_auc` — the thorough test: a classifier (shallow boosted trees, or a logistic
  regression for embeddings) fitted five times under 5-fold cross-validation. Hundreds of
  milliseconds per call: for offline comparisons and the health benchmark's "before" column.
- :class:`LinearDomainTest` — the one the worker runs on every health check: a Fisher linear
  discriminant, cross-fitted over the same five folds. Everything that depends on the reference
  alone (standardisation, fold split, each fold's Ledoit–Wolf shrunk covariance and its Cholesky
  factor) is computed once when a model is loaded; a check then costs, per fold, two means, one
  triangular solve and one projection — about a millisecond for 400 × 384 embeddings. A topic or
  domain change moves the *means* of the sentence vectors and descriptors, which is what a linear
  discriminant separates (the descriptors get their squares as extra features, so a change of
  spread shows as well); see ``brandpulse bench health`` for detection delays side by side with the
  thorough test.

Pure functions of arrays; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FOLDS = 5


def domain_auc(
    reference: np.ndarray, current: np.ndarray, seed: int = 0, linear: bool = False,
    reference_weights: np.ndarray | None = None,
) -> float:
    """Cross-validated ROC-AUC of a classifier telling ``current`` rows from ``reference`` rows.

    Shallow boosted trees for the few, differently scaled text descriptors; ``linear`` (a logistic
    regression) for sentence embeddings: hundreds of dense dimensions and a few hundred rows, where a
    linear boundary is what separates topics and trees would split on noise. ``reference_weights``
    reweight the reference rows in training and in the AUC (see :func:`drift.health.mix_weights`).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = np.vstack([reference, current])
    y = np.r_[np.zeros(len(reference)), np.ones(len(current))]
    clf = (
        LogisticRegression(C=1.0, max_iter=1000) if linear
        else HistGradientBoostingClassifier(max_iter=30, max_depth=3, random_state=seed)
    )
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    if reference_weights is None:
        scores = cross_val_predict(clf, x, y, cv=folds, method="predict_proba")[:, 1]
        return float(roc_auc_score(y, scores))
    w = np.r_[reference_weights, np.ones(len(current))]
    scores = cross_val_predict(clf, x, y, cv=folds, method="predict_proba", params={"sample_weight": w})[:, 1]
    return float(roc_auc_score(y, scores, sample_weight=w))


@dataclass(frozen=True)
class LinearDomainTest:
    """A reference sample prepared for cheap cross-fitted linear domain tests (see the module docstring).

    Build with :meth:`prepare`; call :meth:`auc` per check. Immutable after preparation, so checks of
    several windows may run at once.
    """

    center: np.ndarray  # standardisation learnt on the reference
    scale: np.ndarray
    squares: bool  # standardised features are joined by their squares
    rows: np.ndarray  # (n, d) reference features, transformed
    folds: np.ndarray  # (n,) fold of each reference row
    factors: tuple[Any, ...]  # per fold: Cholesky factor of the other folds' shrunk covariance
    seed: int = 0

    @classmethod
    def prepare(cls, reference: np.ndarray, *, squares: bool = False, seed: int = 0) -> "LinearDomainTest":
        from scipy.linalg import cho_factor
        from sklearn.covariance import ledoit_wolf

        reference = np.asarray(reference, dtype=np.float64)
        if reference.ndim != 2 or len(reference) < 2 * FOLDS:
            raise ValueError(f"a linear domain test needs at least {2 * FOLDS} reference rows, got {reference.shape}")
        center = reference.mean(axis=0)
        scale = reference.std(axis=0)
        scale[scale < 1e-9] = 1.0  # a constant feature stays constant (zero) instead of dividing by zero
        rows = _features(reference, center, scale, squares)
        folds = np.random.default_rng(seed).permutation(len(rows)) % FOLDS
        factors = []
        for f in range(FOLDS):
            train = rows[folds != f]
            shrunk, _ = ledoit_wolf(train)
            # A tiny ridge keeps the factor defined when every feature is constant (zero covariance).
            ridge = 1e-6 * max(float(np.trace(shrunk)) / len(shrunk), 1.0)
            factors.append(cho_factor(shrunk + ridge * np.eye(len(shrunk)), lower=True))
        return cls(center, scale, squares, rows, folds, tuple(factors), seed)

    @property
    def size(self) -> int:
        return len(self.rows)

    def auc(self, current: np.ndarray, reference_weights: np.ndarray | None = None) -> float:
        """Cross-fitted ROC-AUC of the Fisher discriminant telling ``current`` from the reference.

        Each fold's direction is ``Σ⁻¹ (mean(current) − mean(reference))`` from the other folds (Σ the
        reference's shrunk covariance), and only held-out rows are scored, so the AUC is not inflated
        by fitting. ``reference_weights`` weight the reference rows in the means and the AUC (see
        :func:`drift.health.mix_weights`). Needs at least ``2 × 5`` current rows.
        """
        from scipy.linalg import cho_solve
        from sklearn.metrics import roc_auc_score

        current = np.asarray(current, dtype=np.float64)
        if current.ndim != 2 or len(current) < 2 * FOLDS or current.shape[1] != len(self.center):
            raise ValueError(f"need at least {2 * FOLDS} current rows of {len(self.center)} features, got {current.shape}")
        x = _features(current, self.center, self.scale, self.squares)
        weights = np.ones(self.size) if reference_weights is None else np.asarray(reference_weights, dtype=np.float64)
        if len(weights) != self.size:
            raise ValueError(f"{len(weights)} reference weights for {self.size} reference rows")
        current_folds = np.random.default_rng(self.seed + 1).permutation(len(x)) % FOLDS
        ref_scores = np.empty(self.size)
        cur_scores = np.empty(len(x))
        for f, factor in enumerate(self.factors):
            train_ref, train_cur = self.folds != f, current_folds != f
            w = weights[train_ref]
            ref_mean = np.average(self.rows[train_ref], axis=0, weights=w) if w.sum() > 0 else self.rows[train_ref].mean(axis=0)
            direction = cho_solve(factor, x[train_cur].mean(axis=0) - ref_mean)
            ref_scores[~train_ref] = self.rows[~train_ref] @ direction
            cur_scores[~train_cur] = x[~train_cur] @ direction
        y = np.r_[np.zeros(self.size), np.ones(len(x))]
        sample_weight = np.r_[weights, np.ones(len(x))]
        return float(roc_auc_score(y, np.r_[ref_scores, cur_scores], sample_weight=sample_weight))


def _features(x: np.ndarray, center: np.ndarray, scale: np.ndarray, squares: bool) -> np.ndarray:
    z = (x - center) / scale
    return np.hstack([z, z * z]) if squares else z
