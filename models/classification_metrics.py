"""Evaluation metrics for a sentiment classifier, as pure functions over arrays.

Everything returned is plain Python (floats, lists, dicts) so it drops straight into JSON reports,
MLflow params/metrics and ``CheckpointMeta.metrics``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    recall_score,
    roc_auc_score,
)


def _check_inputs(y_true: np.ndarray, probs: np.ndarray, n_labels: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probs must be 2-D (n_samples, n_classes); got shape {p.shape}")
    if y.ndim != 1 or len(y) != len(p):
        raise ValueError(f"y_true must be 1-D with one entry per probs row; got {y.shape} vs {p.shape}")
    if len(y) == 0:
        raise ValueError("cannot compute metrics on an empty evaluation set")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError("y_true must hold integer class indices; map label names with labels.index(name) first")
    if n_labels is not None and p.shape[1] != n_labels:
        raise ValueError(f"probs has {p.shape[1]} columns but {n_labels} labels were given")
    if y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(f"y_true holds class indices outside [0, {p.shape[1] - 1}]")
    return y.astype(np.int64), p


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE: sum over equal-width confidence bins of |accuracy - mean confidence| weighted by bin share."""
    return _weighted_gap(reliability_bins(y_true, probs, n_bins), len(np.asarray(y_true)))


def _weighted_gap(bins: list[dict], n: int) -> float:
    return float(sum(b["count"] / n * abs(b["accuracy"] - b["confidence"]) for b in bins))


def _binned(confidence: np.ndarray, hit: np.ndarray, n_bins: int) -> list[dict]:
    """Non-empty right-closed bins (0, 1/n], ..., ((n-1)/n, 1] (as in Guo et al.) of ``confidence``:
    lower, upper, count, accuracy (mean of ``hit``) and mean confidence."""
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    bins = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    out = []
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            out.append(
                {
                    "lower": b / n_bins,
                    "upper": (b + 1) / n_bins,
                    "count": int(mask.sum()),
                    "accuracy": float(hit[mask].mean()),
                    "confidence": float(confidence[mask].mean()),
                }
            )
    return out


def reliability_bins(y_true: np.ndarray, probs: np.ndarray, n_bins: int = 15) -> list[dict]:
    """Non-empty equal-width top-label confidence bins: lower, upper, count, accuracy, mean confidence."""
    y, p = _check_inputs(y_true, probs)
    return _binned(p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64), n_bins)


def class_reliability_bins(y_true: np.ndarray, probs: np.ndarray, cls: int, n_bins: int = 15) -> list[dict]:
    """Equal-width bins of p(``cls``) over every row; "accuracy" is the share of the bin's rows that are ``cls``.

    The top-label bins only see the winning class, so a model that over-states a class it rarely
    picks (neutral on other domains) looks calibrated there; bins of each class's own probability show it.
    """
    y, p = _check_inputs(y_true, probs)
    if not 0 <= cls < p.shape[1]:
        raise ValueError(f"class index {cls} is outside [0, {p.shape[1] - 1}]")
    return _binned(p[:, cls], (y == cls).astype(np.float64), n_bins)


def classwise_ece(y_true: np.ndarray, probs: np.ndarray, labels: Sequence[str], n_bins: int = 15) -> dict[str, float]:
    """Per class, the ECE of its own probability (:func:`class_reliability_bins`); their mean is classwise ECE (Kull et al. 2019)."""
    y, p = _check_inputs(y_true, probs, len(labels))
    return {name: _weighted_gap(class_reliability_bins(y, p, c, n_bins), len(y)) for c, name in enumerate(labels)}


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0.0 for a single value) across seeds/folds."""
    arr = np.asarray(list(values), dtype=np.float64)
    if arr.size == 0:
        raise ValueError("mean_std needs at least one value")
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return float(arr.mean()), std


def _nan_to_none(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def classification_metrics(
    y_true: np.ndarray,
    probs: np.ndarray,
    labels: list[str],
    y_pred: np.ndarray | None = None,
) -> dict:
    """Accuracy, macro/weighted F1, macro recall, per-class P/R/F1, confusion matrix, one-vs-rest AUCs, ECE (top-label and per class).

    ``y_pred`` lets a caller score a tuned decision rule (``models.scoring.scorer.decide``) instead of argmax;
    the ranking metrics (AUCs) and ECE always use ``probs``. A class absent from ``y_true`` gets
    ``None`` AUCs and is left out of the macro AUC averages.
    """
    y, p = _check_inputs(y_true, probs, len(labels))
    k = len(labels)
    pred = p.argmax(axis=1) if y_pred is None else np.asarray(y_pred, dtype=np.int64)
    if pred.shape != y.shape:
        raise ValueError(f"y_pred must have the same shape as y_true; got {pred.shape} vs {y.shape}")
    classes = list(range(k))
    prec, rec, f1, support = precision_recall_fscore_support(y, pred, labels=classes, zero_division=0)

    roc: dict[str, float | None] = {}
    pr: dict[str, float | None] = {}
    for c, name in enumerate(labels):
        positives = y == c
        if positives.all() or not positives.any():
            roc[name] = pr[name] = None
            continue
        roc[name] = float(roc_auc_score(positives, p[:, c]))
        pr[name] = float(average_precision_score(positives, p[:, c]))
    roc_vals = [v for v in roc.values() if v is not None]
    pr_vals = [v for v in pr.values() if v is not None]

    return {
        "n": int(len(y)),
        "labels": list(labels),
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, labels=classes, average="macro", zero_division=0)),
        "macro_recall": float(recall_score(y, pred, labels=classes, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y, pred, labels=classes, average="weighted", zero_division=0)),
        "per_class": {
            name: {
                "precision": float(prec[c]),
                "recall": float(rec[c]),
                "f1": float(f1[c]),
                "support": int(support[c]),
            }
            for c, name in enumerate(labels)
        },
        "confusion_matrix": confusion_matrix(y, pred, labels=classes).tolist(),
        "roc_auc": roc,
        "pr_auc": pr,
        "roc_auc_macro": _nan_to_none(float(np.mean(roc_vals))) if roc_vals else None,
        "pr_auc_macro": _nan_to_none(float(np.mean(pr_vals))) if pr_vals else None,
        "ece": expected_calibration_error(y, p),
        "ece_per_class": classwise_ece(y, p, labels),
    }


def headline(metrics: dict) -> dict[str, float]:
    """The flat float metrics of a ``classification_metrics`` dict (for MLflow / ``CheckpointMeta.metrics``)."""
    keys = ("accuracy", "macro_f1", "macro_recall", "weighted_f1", "roc_auc_macro", "pr_auc_macro", "ece")
    return {k: float(metrics[k]) for k in keys if metrics.get(k) is not None}


def label_codes(gold: Sequence[str], *predictions: Sequence[str]) -> tuple[int, np.ndarray, list[np.ndarray]]:
    """The number of labels and every sequence as integer codes of one shared, sorted label list."""
    names = sorted(set(gold).union(*predictions))
    index = {name: i for i, name in enumerate(names)}
    return len(names), np.array([index[x] for x in gold]), [np.array([index[x] for x in p]) for p in predictions]


def resampled_macro_f1(pred: np.ndarray, true: np.ndarray, draws: np.ndarray, k: int) -> np.ndarray:
    """Macro-F1 of each resample (a row of ``draws``: indices into ``pred``/``true``), over the labels present.

    Vectorised: every resample's per-label TP / predicted / true counts come from one ``bincount``
    (1,000 sklearn calls would cost about a second per check). Labels absent from a resample are
    left out of its mean, exactly as sklearn's macro average over the labels present does (the
    drift tests check it against sklearn).
    """
    resamples = len(draws)
    p, t = pred[draws], true[draws]
    offset = (np.arange(resamples) * k)[:, None]
    size = resamples * k
    n_pred = np.bincount((p + offset).ravel(), minlength=size).reshape(resamples, k)
    n_true = np.bincount((t + offset).ravel(), minlength=size).reshape(resamples, k)
    tp = np.bincount((p + offset).ravel(), weights=(p == t).ravel(), minlength=size).reshape(resamples, k)
    denom = n_pred + n_true
    present = denom > 0
    f1 = np.where(present, 2 * tp / np.maximum(denom, 1), 0.0)
    return f1.sum(axis=1) / np.maximum(present.sum(axis=1), 1)


def bootstrap_gains(
    gold: Sequence[str], new: Sequence[str], old: Sequence[str], resamples: int = 1000, seed: int = 0
) -> np.ndarray:
    """macro-F1(new) − macro-F1(old) on each of ``resamples`` paired bootstrap draws of the labelled posts.

    Each resample draws posts, and both predictions are scored on the same draw, so what the posts
    have in common (easy or hard ones) cancels out of the difference: the spread is as narrow as
    the two disagree little. Take several quantiles of one array rather than resampling for each.
    """
    if not (len(gold) == len(new) == len(old)) or not gold:
        raise ValueError(f"need the same non-empty posts for both predictions; got {len(gold)}, {len(new)}, {len(old)}")
    k, true, (a, b) = label_codes(gold, new, old)
    draws = np.random.default_rng(seed).integers(0, len(gold), size=(resamples, len(gold)))
    return resampled_macro_f1(a, true, draws, k) - resampled_macro_f1(b, true, draws, k)


def bootstrap_gain_bound(
    gold: Sequence[str], new: Sequence[str], old: Sequence[str], quantile: float, resamples: int = 1000, seed: int = 0
) -> float:
    """A quantile of macro-F1(new) − macro-F1(old) on the same labelled posts (:func:`bootstrap_gains`).

    ``quantile`` 0.9 is a one-sided 90 % upper bound, 0.05 a 95 % lower one.
    """
    return float(np.quantile(bootstrap_gains(gold, new, old, resamples, seed), quantile))


def bootstrap_gain_upper(
    gold: Sequence[str], new: Sequence[str], old: Sequence[str], confidence: float = 0.9, resamples: int = 1000,
    seed: int = 0,
) -> float:
    """One-sided upper confidence bound of macro-F1(new) − macro-F1(old) (:func:`bootstrap_gain_bound`)."""
    return bootstrap_gain_bound(gold, new, old, confidence, resamples, seed)
