"""Metrics on hand-computed inputs, cross-checked against sklearn where it has the same metric."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from models.classification_metrics import (
    class_reliability_bins,
    classification_metrics,
    classwise_ece,
    expected_calibration_error,
    headline,
    mean_std,
    reliability_bins,
)

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


# Hand-computed with 2 bins, (0, .5] and (.5, 1]: every probability below is exact in binary.
Y3 = np.array([0, 1, 2, 2])
P3 = np.array([[0.625, 0.25, 0.125], [0.25, 0.5, 0.25], [0.125, 0.125, 0.75], [0.375, 0.375, 0.25]])


def test_class_reliability_bins_read_each_class_probability_over_every_row() -> None:
    # p(positive) = .125, .25, .75, .25; rows that are positive: the last two.
    assert class_reliability_bins(Y3, P3, 2, n_bins=2) == [
        {"lower": 0.0, "upper": 0.5, "count": 3, "accuracy": pytest.approx(1 / 3), "confidence": pytest.approx(0.625 / 3)},
        {"lower": 0.5, "upper": 1.0, "count": 1, "accuracy": 1.0, "confidence": 0.75},
    ]


def test_classwise_ece_is_each_class_probability_gap_weighted_by_bin_share() -> None:
    # negative: (.25,.125,.375 | 0 of 3) and (.625 | 1): 3/4 * .25 + 1/4 * .375
    # neutral: all four in (0, .5], mean .3125, one of four neutral: |.25 - .3125|
    # positive: 3/4 * |1/3 - .625/3| + 1/4 * |1 - .75|
    assert classwise_ece(Y3, P3, LABELS, n_bins=2) == {
        "negative": pytest.approx(0.28125), "neutral": pytest.approx(0.0625), "positive": pytest.approx(0.15625),
    }


def test_top_label_ece_of_the_same_rows() -> None:
    # top confidences .625 (right), .5 (right), .75 (right), .375 (argmax negative, wrong):
    # (0, .5]: mean .4375, accuracy .5; (.5, 1]: mean .6875, accuracy 1
    assert expected_calibration_error(Y3, P3, n_bins=2) == pytest.approx(0.5 * 0.0625 + 0.5 * 0.3125)


def test_classification_metrics_carry_the_per_class_ece() -> None:
    assert classification_metrics(Y3, P3, LABELS)["ece_per_class"] == classwise_ece(Y3, P3, LABELS)


def test_a_class_index_outside_the_probabilities_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        class_reliability_bins(Y3, P3, 3)
