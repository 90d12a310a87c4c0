"""Decision-threshold tuning on validation scores.

Two modes:

* binary — pick the cut-off on p(minority) that maximises the minority class's F1;
* negative — brandpulse's crisis rule ``models.scoring.scorer.decide``: a post is negative when argmax says so
  *or* p(negative) >= t. Tuning picks t to maximise negative-class F1, or the macro-F1 of the whole
  rule (``objective="macro_f1"``: what models are compared on; a negative-F1 optimum on a
  negative-heavy validation set flags so many posts that the other classes pay more than negative
  gains), or, given a target recall, the highest t that still reaches it (fewest false alarms for
  the recall the brand team asked for).

Candidate thresholds are midpoints between consecutive distinct validation scores, so a tuned value
does not sit exactly on one validation example and flip under float noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

MAX_CURVE_POINTS = 201


class ThresholdResult(BaseModel):
    threshold: float = Field(description="Flag the class when its probability >= threshold")
    f1: float
    precision: float
    recall: float
    curve: list[tuple[float, float, float, float]] = Field(
        default_factory=list, description="(threshold, precision, recall, f1), threshold descending"
    )
    positive_class: int = Field(description="Class index whose probability the threshold applies to")
    label: str | None = None
    target_recall: float | None = None
    met_target: bool = True
    is_argmax: bool = Field(default=False, description="True when plain argmax is the chosen rule (threshold=1.0)")


def _flag_order(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The order rows are flagged in as the threshold falls (highest score first, stable) and, in
    that order, the last index of each run of equal scores: every threshold flags whole runs."""
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True]) if len(s) else np.array([], dtype=np.int64)
    return order, ends


def _sweep(
    positive: np.ndarray, always: np.ndarray, scores: np.ndarray, empty_threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds (descending) with precision, recall, F1 of "flag when always or score >= t"."""
    n_pos = int(positive.sum())
    tp0 = int((positive & always).sum())
    fp0 = int((~positive & always).sum())
    rest = ~always
    s = scores[rest]
    pos_rest = positive[rest]
    order, ends = _flag_order(s)
    s, pos_rest = s[order], pos_rest[order]
    tp_cum = np.cumsum(pos_rest)
    fp_cum = np.cumsum(~pos_rest)
    values = s[ends]
    lower = np.r_[values[1:], values[-1:] / 2.0] if len(values) else values
    thresholds = np.r_[empty_threshold, (values + lower) / 2.0]
    tp = np.r_[tp0, tp0 + tp_cum[ends]] if len(ends) else np.array([tp0])
    fp = np.r_[fp0, fp0 + fp_cum[ends]] if len(ends) else np.array([fp0])
    flagged = tp + fp
    precision = np.divide(tp, flagged, out=np.zeros(len(tp), dtype=np.float64), where=flagged > 0)
    recall = tp / n_pos if n_pos else np.zeros(len(tp), dtype=np.float64)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(len(tp), dtype=np.float64), where=denom > 0)
    return thresholds, precision, recall, f1


def _result(
    thresholds: np.ndarray,
    precision: np.ndarray,
    recall: np.ndarray,
    f1: np.ndarray,
    *,
    positive_class: int,
    label: str | None,
    target_recall: float | None,
    argmax_index: int | None,
    objective: np.ndarray | None = None,
) -> ThresholdResult:
    if target_recall is None:
        # first = highest threshold among ties: fewer false alarms
        best = int(np.argmax(f1 if objective is None else objective))
        met = True
    else:
        reaching = np.flatnonzero(recall >= target_recall - 1e-12)
        met = len(reaching) > 0
        best = int(reaching[0]) if met else int(np.argmax(recall))
    step = max(1, int(np.ceil(len(thresholds) / MAX_CURVE_POINTS)))
    keep = sorted(set(range(0, len(thresholds), step)) | {best, len(thresholds) - 1})
    curve = [(float(thresholds[i]), float(precision[i]), float(recall[i]), float(f1[i])) for i in keep]
    return ThresholdResult(
        threshold=float(thresholds[best]),
        f1=float(f1[best]),
        precision=float(precision[best]),
        recall=float(recall[best]),
        curve=curve,
        positive_class=positive_class,
        label=label,
        target_recall=target_recall,
        met_target=met,
        is_argmax=argmax_index is not None and best == argmax_index,
    )


def _check_recall(target_recall: float | None) -> None:
    if target_recall is not None and not 0.0 < target_recall <= 1.0:
        raise ValueError(f"target_recall must be in (0, 1]; got {target_recall}")


def tune_binary_threshold(
    y_true: np.ndarray,
    p_positive: np.ndarray,
    minority: int | None = None,
    target_recall: float | None = None,
) -> ThresholdResult:
    """Cut-off on p(minority) maximising minority-class F1 (or highest one reaching ``target_recall``).

    ``p_positive`` is p(class 1). ``minority`` defaults to the rarer class in ``y_true``; when it is 0
    the threshold applies to ``1 - p_positive``.
    """
    y = np.asarray(y_true)
    p = np.asarray(p_positive, dtype=np.float64)
    if y.ndim != 1 or p.shape != y.shape or len(y) == 0:
        raise ValueError(f"y_true and p_positive must be non-empty 1-D arrays of equal length; got {y.shape}, {p.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must contain only 0/1 for binary threshold tuning")
    _check_recall(target_recall)
    if minority is None:
        minority = 1 if (y == 1).sum() <= (y == 0).sum() else 0
    if minority not in (0, 1):
        raise ValueError(f"minority must be 0 or 1; got {minority}")
    scores = p if minority == 1 else 1.0 - p
    positive = y == minority
    empty = float(np.nextafter(scores.max(), np.inf))
    curves = _sweep(positive, np.zeros_like(positive), scores, empty)
    return _result(*curves, positive_class=minority, label=None, target_recall=target_recall, argmax_index=None)


def rule_macro_f1(y: np.ndarray, probs: np.ndarray, neg: int) -> np.ndarray:
    """Macro-F1 of "argmax, or negative when p(negative) >= t" for each threshold ``_sweep`` returns.

    The sweep flags the rows that argmax does not call negative in order of falling p(negative); each
    flagged row moves from its argmax class to negative, so per-class counts follow by cumulative sums.
    """
    k = probs.shape[1]
    arg = probs.argmax(axis=1)
    rest = arg != neg
    order, ends = _flag_order(probs[rest, neg])
    moved_from, truth = arg[rest][order], y[rest][order]
    onehot = np.eye(k, dtype=np.int64)
    # Row i of each array: the change after flipping the first i+1 rows (the threshold list starts at "none").
    gain_tp_neg = np.r_[0, np.cumsum(truth == neg)[ends]]
    gain_fp_neg = np.r_[0, np.cumsum(truth != neg)[ends]]
    lost_tp = np.vstack([np.zeros(k, dtype=np.int64), np.cumsum(onehot[moved_from] * (truth == moved_from)[:, None], axis=0)[ends]])
    lost_fp = np.vstack([np.zeros(k, dtype=np.int64), np.cumsum(onehot[moved_from] * (truth != moved_from)[:, None], axis=0)[ends]])
    tp = np.array([((arg == c) & (y == c)).sum() for c in range(k)]) - lost_tp
    fp = np.array([((arg == c) & (y != c)).sum() for c in range(k)]) - lost_fp
    tp[:, neg] += gain_tp_neg
    fp[:, neg] += gain_fp_neg
    support = np.array([(y == c).sum() for c in range(k)])
    denom = 2 * tp + fp + (support - tp)
    f1 = np.divide(2 * tp, denom, out=np.zeros(tp.shape, dtype=np.float64), where=denom > 0)
    return f1.mean(axis=1)


def tune_negative_threshold(
    y_true: np.ndarray,
    probs: np.ndarray,
    labels: Sequence[str],
    negative_label: str = "negative",
    target_recall: float | None = None,
    objective: Literal["negative_f1", "macro_f1"] = "negative_f1",
) -> ThresholdResult:
    """Threshold for ``decide``: negative when argmax is negative or p(negative) >= t.

    Maximises negative-class F1 (or, with ``objective="macro_f1"``, the macro-F1 of the rule over all
    classes), or with ``target_recall`` returns the highest t whose negative recall reaches it
    (``met_target`` False if even t→0 cannot). ``threshold == 1.0`` (``is_argmax``) means argmax alone
    is best; storing it in ``CheckpointMeta.negative_threshold`` behaves exactly like argmax.
    """
    y = np.asarray(y_true)
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or y.ndim != 1 or len(y) != len(p) or len(y) == 0:
        raise ValueError(f"need non-empty y_true (n,) and probs (n, k); got {y.shape}, {p.shape}")
    if p.shape[1] != len(labels):
        raise ValueError(f"probs has {p.shape[1]} columns but {len(labels)} labels were given")
    if negative_label not in labels:
        raise ValueError(f"negative_label {negative_label!r} is not one of the labels {list(labels)}")
    _check_recall(target_recall)
    neg = list(labels).index(negative_label)
    positive = y == neg
    always = p.argmax(axis=1) == neg
    # Rows that are not argmax-negative have p(neg) <= 0.5 < 1.0, so t = 1.0 adds none of them.
    curves = _sweep(positive, always, p[:, neg], 1.0)
    return _result(
        *curves, positive_class=neg, label=negative_label, target_recall=target_recall, argmax_index=0,
        objective=rule_macro_f1(y, p, neg) if objective == "macro_f1" else None,
    )
