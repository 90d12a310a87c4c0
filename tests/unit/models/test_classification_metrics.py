"""Metrics on hand-computed inputs, cross-checked against sklearn where it has the same metric."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from models.classification_metrics import classification_metrics, expected_calibration_error, headline, mean_std, reliability_bins

LABELS = ["negative", "neutral", "positive"]


def one_hot(idx: list[int], k: int = 3, p: float = 1.0) -> np.ndarray:
    out = np.full((len(idx), k), (1 - p) / (k - 1))
    out[np.arange(len(idx)), idx] = p
    return out


def test_perfect_predictor() -> None:
    y = np.array([0, 1, 2, 0, 1, 2])
    m = classification_metrics(y, one_hot(list(y)), LABELS)
    assert m["accuracy"] == m["macro_f1"] == m["macro_recall"] == m["weighted_f1"] == 1.0
    assert m["confusion_matrix"] == [[2, 0, 0], [0, 2, 0], [0, 0, 2]]
    assert m["roc_auc_macro"] == 1.0 and m["pr_auc_macro"] == 1.0
    assert m["ece"] == pytest.approx(0.0)
    json.dumps(m)  # JSON-able


def test_hand_computed_values() -> None:
    # true:  n n n u p p ; pred: n n u u p n
    y = np.array([0, 0, 0, 1, 2, 2])
    pred = [0, 0, 1, 1, 2, 0]
    m = classification_metrics(y, one_hot(pred, p=0.8), LABELS)
    assert m["accuracy"] == pytest.approx(4 / 6)
    neg = m["per_class"]["negative"]  # TP=2 FP=1 FN=1
    assert (neg["precision"], neg["recall"], neg["f1"], neg["support"]) == pytest.approx((2 / 3, 2 / 3, 2 / 3, 3))
    neu = m["per_class"]["neutral"]  # TP=1 FP=1 FN=0
    assert (neu["precision"], neu["recall"], neu["f1"]) == pytest.approx((0.5, 1.0, 2 / 3))
    pos = m["per_class"]["positive"]  # TP=1 FP=0 FN=1
    assert (pos["precision"], pos["recall"], pos["f1"]) == pytest.approx((1.0, 0.5, 2 / 3))
    assert m["macro_recall"] == pytest.approx((2 / 3 + 1 + 0.5) / 3)
    assert m["macro_f1"] == pytest.approx(2 / 3)
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 1, 0], [1, 0, 1]]
    # All predictions have confidence 0.8, accuracy 4/6.
    assert m["ece"] == pytest.approx(abs(0.8 - 4 / 6))


def test_matches_sklearn_on_random_scores() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3)) + np.eye(3)[y] * 1.5
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    m = classification_metrics(y, probs, LABELS)
    pred = probs.argmax(axis=1)
    assert m["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert m["weighted_f1"] == pytest.approx(f1_score(y, pred, average="weighted"))
    for c, name in enumerate(LABELS):
        assert m["roc_auc"][name] == pytest.approx(roc_auc_score(y == c, probs[:, c]))
    assert m["roc_auc_macro"] == pytest.approx(roc_auc_score(y, probs, multi_class="ovr", average="macro"))


def test_explicit_y_pred_overrides_argmax_but_not_auc() -> None:
    y = np.array([0, 1, 2, 0])
    probs = one_hot([0, 1, 2, 0], p=0.9)
    m = classification_metrics(y, probs, LABELS, y_pred=np.array([1, 1, 2, 0]))
    assert m["accuracy"] == 0.75
    assert m["roc_auc_macro"] == 1.0


def test_constant_predictor_and_missing_class() -> None:
    y = np.array([0, 0, 0, 1])  # no positives at all
    probs = np.tile([0.6, 0.3, 0.1], (4, 1))
    m = classification_metrics(y, probs, LABELS)
    assert m["accuracy"] == 0.75
    assert m["per_class"]["positive"]["support"] == 0
    assert m["roc_auc"]["positive"] is None and m["pr_auc"]["positive"] is None
    assert m["roc_auc"]["negative"] == 0.5  # constant scores carry no ranking information
    assert m["macro_recall"] == pytest.approx((1 + 0 + 0) / 3)
    assert set(headline(m)) >= {"accuracy", "macro_f1", "ece"}


def test_ece_of_perfectly_calibrated_toy_is_zero() -> None:
    # 10 rows at confidence 0.7 of which exactly 7 correct, 10 at 0.9 with 9 correct.
    y = np.array([0] * 7 + [1] * 3 + [0] * 9 + [1])
    probs = np.array([[0.7, 0.3]] * 10 + [[0.9, 0.1]] * 10)
    assert expected_calibration_error(y, probs) == pytest.approx(0.0)
    bins = reliability_bins(y, probs)
    assert [b["count"] for b in bins] == [10, 10]


def test_ece_of_overconfident_toy() -> None:
    y = np.array([0, 1, 0, 1])
    probs = np.array([[0.99, 0.01]] * 4)
    assert expected_calibration_error(y, probs) == pytest.approx(0.49)


def test_mean_std() -> None:
    assert mean_std([1.0, 2.0, 3.0]) == pytest.approx((2.0, 1.0))
    assert mean_std([0.5]) == (0.5, 0.0)
    with pytest.raises(ValueError):
        mean_std([])


@pytest.mark.parametrize(
    ("y", "probs", "message"),
    [
        (np.array([0, 1]), np.array([0.2, 0.8]), "2-D"),
        (np.array([0, 1, 1]), np.eye(3)[:2], "one entry per probs row"),
        (np.array(["a", "b"]), np.eye(3)[:2], "integer class indices"),
        (np.array([0, 5]), np.eye(3)[:2], "outside"),
        (np.array([], dtype=int), np.zeros((0, 3)), "empty"),
    ],
)
def test_bad_input_is_explained(y: np.ndarray, probs: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        classification_metrics(y, probs, LABELS)
