"""Distances between two discrete distributions: PSI, Jensen–Shannon distance, chi-square fit.

Pure functions shared by the label-distribution detector (:mod:`drift.detectors.label_distribution`,
where the thresholds on them are justified) and the shadow comparison (:mod:`drift.shadow`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2 as chi2_dist

EPS = 1e-4  # floor for probabilities: keeps log / division finite for empty classes


class ChiSquare(NamedTuple):
    statistic: float
    p_value: float


def normalise(p: Sequence[float]) -> list[float]:
    """Proportions with every class floored at ``EPS``, so an empty class costs a finite amount."""
    if any((not math.isfinite(v)) or v < 0 for v in p):
        raise ValueError(f"probabilities must be finite and non-negative, got {list(p)}")
    floored = [max(float(v), EPS) for v in p]
    total = sum(floored)
    return [v / total for v in floored]


def psi(p: Sequence[float], q: Sequence[float]) -> float:
    """Population stability index of ``p`` (actual) against ``q`` (expected): Σ (p−q)·ln(p/q)."""
    if len(p) != len(q) or not p:
        raise ValueError(f"psi needs two non-empty distributions of equal length, got {len(p)} and {len(q)}")
    pn, qn = normalise(p), normalise(q)
    return sum((a - b) * math.log(a / b) for a, b in zip(pn, qn))


def js_distance(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen–Shannon *distance*, base 2 (0 = identical, 1 = disjoint support), by scipy.

    scipy's ``jensenshannon`` returns the distance — the square root of the divergence — and every
    threshold here (``LabelThresholds.js``, ``rearm_js``, the shadow report) is on the distance.
    """
    if len(p) != len(q) or not p:
        raise ValueError(f"js_distance needs two non-empty distributions of equal length, got {len(p)} and {len(q)}")
    pa, qa = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if not (np.isfinite(pa).all() and np.isfinite(qa).all()) or (pa < 0).any() or (qa < 0).any():
        raise ValueError(f"js_distance needs finite non-negative masses, got {list(p)} and {list(q)}")
    if pa.sum() <= 0 or qa.sum() <= 0:
        raise ValueError("js_distance needs distributions with positive mass")
    return float(jensenshannon(pa, qa, base=2))


def chi_square(counts: Sequence[float], ref: Sequence[float]) -> ChiSquare:
    """Goodness of fit of observed ``counts`` to reference proportions ``ref`` (k−1 d.o.f.)."""
    if len(counts) != len(ref) or len(counts) < 2:
        raise ValueError(f"chi_square needs ≥2 categories of equal length, got {len(counts)} and {len(ref)}")
    n = float(sum(counts))
    if n <= 0:
        raise ValueError("chi_square needs at least one observation")
    expected = [n * r for r in normalise(ref)]
    stat = sum((o - e) ** 2 / e for o, e in zip(counts, expected))
    return ChiSquare(stat, float(chi2_dist.sf(stat, len(counts) - 1)))
