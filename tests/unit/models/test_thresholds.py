"""Threshold tuning recovers known optima and agrees with models.scoring.scorer.decide."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, recall_score

from models.scoring.scorer import decide
from models.thresholds import tune_binary_threshold, tune_negative_threshold

LABELS = ["negative", "neutral", "positive"]


def test_binary_recovers_separating_threshold() -> None:
    # Minority class 1 has scores 0.3..0.4, majority 0.0..0.2: any t in (0.2, 0.3] is perfect.
    y = np.array([0] * 20 + [1] * 5)
    p = np.r_[np.linspace(0.0, 0.2, 20), np.linspace(0.3, 0.4, 5)]
    r = tune_binary_threshold(y, p)
    assert r.positive_class == 1
    assert r.f1 == 1.0 and r.precision == 1.0 and r.recall == 1.0
    assert 0.2 < r.threshold <= 0.3
    assert r.curve[0][0] > r.curve[-1][0]  # descending


def test_binary_brute_force_agrees() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.2).astype(int)
    p = np.clip(rng.normal(0.3 + 0.3 * y, 0.2), 0, 1)
    r = tune_binary_threshold(y, p)
    best = max(f1_score(y, (p >= t).astype(int), zero_division=0) for t in np.unique(p))
    assert r.f1 == pytest.approx(best)
    assert f1_score(y, (p >= r.threshold).astype(int)) == pytest.approx(r.f1)


def test_binary_minority_zero_uses_complement() -> None:
    y = np.array([0] * 3 + [1] * 10)
    p = np.r_[[0.1, 0.2, 0.3], np.linspace(0.5, 0.9, 10)]
    r = tune_binary_threshold(y, p)
    assert r.positive_class == 0
    assert r.f1 == 1.0
    assert ((1 - p) >= r.threshold).sum() == 3


def _toy_probs(seed: int, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.choice(3, n, p=[0.2, 0.5, 0.3])
    logits = rng.normal(size=(n, 3)) + np.eye(3)[y] * 1.2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, probs


def test_negative_threshold_consistent_with_decide_and_optimal() -> None:
    y, probs = _toy_probs(1)
    r = tune_negative_threshold(y, probs, LABELS)
    pred = decide(probs, LABELS, "negative", r.threshold)
    assert f1_score(y == 0, pred == 0) == pytest.approx(r.f1)
    assert recall_score(y == 0, pred == 0) == pytest.approx(r.recall)
    # Brute force over every candidate threshold the rule could use.
    grid = np.r_[np.unique(probs[:, 0]), 1.0]
    best = max(f1_score(y == 0, decide(probs, LABELS, "negative", t) == 0) for t in grid)
    assert r.f1 == pytest.approx(best)
    # Rare negatives: lowering the bar below argmax helps F1 here.
    argmax_f1 = f1_score(y == 0, probs.argmax(axis=1) == 0)
    assert r.f1 >= argmax_f1


@pytest.mark.parametrize("seed, negatives", [(4, 0.2), (5, 0.6)])
def test_macro_f1_objective_is_the_best_rule_for_macro_f1(seed: int, negatives: float) -> None:
    rng = np.random.default_rng(seed)
    y = rng.choice(3, 500, p=[negatives, (1 - negatives) / 2, (1 - negatives) / 2])
    logits = rng.normal(size=(500, 3)) + np.eye(3)[y] * 1.0 + [0.3, 0, 0]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    r = tune_negative_threshold(y, probs, LABELS, objective="macro_f1")

    def macro(t: float) -> float:
        return float(f1_score(y, decide(probs, LABELS, "negative", t), average="macro"))

    grid = np.r_[np.unique(probs[:, 0]), 1.0]
    assert macro(r.threshold) == pytest.approx(max(macro(t) for t in grid))
    # The reported precision/recall/F1 stay the negative class's, at the chosen threshold.
    pred = decide(probs, LABELS, "negative", r.threshold)
    assert f1_score(y == 0, pred == 0) == pytest.approx(r.f1)


def test_negative_target_recall_picks_highest_threshold_reaching_it() -> None:
    y, probs = _toy_probs(2)
    r = tune_negative_threshold(y, probs, LABELS, target_recall=0.9)
    assert r.met_target and r.recall >= 0.9
    pred = decide(probs, LABELS, "negative", r.threshold)
    assert recall_score(y == 0, pred == 0) == pytest.approx(r.recall)
    # Any noticeably higher threshold misses the target.
    higher = decide(probs, LABELS, "negative", r.threshold + 0.01)
    assert recall_score(y == 0, higher == 0) < 0.9


def test_argmax_is_reported_when_best() -> None:
    y = np.array([0, 1, 2, 0])
    probs = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.2, 0.1, 0.7], [0.8, 0.1, 0.1]])
    r = tune_negative_threshold(y, probs, LABELS)
    assert r.is_argmax and r.threshold == 1.0 and r.f1 == 1.0
    assert (decide(probs, LABELS, "negative", r.threshold) == probs.argmax(axis=1)).all()


def test_bad_input() -> None:
    y, probs = _toy_probs(3, 30)
    with pytest.raises(ValueError, match="not one of the labels"):
        tune_negative_threshold(y, probs, LABELS, negative_label="angry")
    with pytest.raises(ValueError, match="target_recall"):
        tune_negative_threshold(y, probs, LABELS, target_recall=1.5)
    with pytest.raises(ValueError, match="0/1"):
        tune_binary_threshold(np.array([0, 2]), np.array([0.1, 0.2]))


def test_no_threshold_objective_decides_by_argmax() -> None:
    from models.train import evaluate_logits

    y, probs = _toy_probs(6)
    logits = np.log(probs) * 1.7  # a model that is overconfident, so calibration has something to fit
    calibration, calibrated, threshold, metrics = evaluate_logits(logits, y, LABELS, objective="none")
    assert threshold is None
    argmax_macro = f1_score(y, logits.argmax(axis=1), average="macro")
    assert metrics["macro_f1"] == pytest.approx(argmax_macro)
    # The same scores with a tuned rule flag differently: the objective is what made the difference.
    _, _, tuned, _ = evaluate_logits(logits, y, LABELS, objective="negative_f1")
    assert tuned is not None and not tuned.is_argmax
