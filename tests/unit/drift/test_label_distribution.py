from __future__ import annotations

import json
import random
from collections import Counter

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chisquare

from drift.detectors.label_distribution import LabelDistributionDetector, LabelThresholds
from drift.measures import chi_square, js_distance, psi
from tests.support.data import airline_rows
from tests.support.drift import LABELS, labels_with_jump


def test_pure_measures_match_scipy_and_known_values() -> None:
    p, q = [0.5, 0.3, 0.2], [0.3, 0.4, 0.3]
    assert js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2))
    assert js_distance(p, p) == 0.0
    assert js_distance([1, 0], [0, 1]) == pytest.approx(1.0)
    # The hand-written base-2 distance drift.label_distribution used before scipy's, on counts vs proportions.
    assert js_distance([300, 150, 50], [0.3, 0.4, 0.3]) == pytest.approx(0.28227894390419067, abs=1e-12)
    assert js_distance([0, 10, 5], [1, 1, 0]) == pytest.approx(0.6521377057902368, abs=1e-12)
    assert js_distance([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(0.3918681606471551, abs=1e-12)
    counts, ref = [260, 130, 110], [0.5, 0.3, 0.2]
    expected = chisquare(counts, [500 * r for r in ref])
    got = chi_square(counts, ref)
    assert got.statistic == pytest.approx(expected.statistic) and got.p_value == pytest.approx(expected.pvalue)
    # PSI by hand: Σ (p−q)·ln(p/q)
    assert psi(p, q) == pytest.approx(0.2 * np.log(5 / 3) - 0.1 * np.log(3 / 4) - 0.1 * np.log(2 / 3))
    assert np.isfinite(psi([0.0, 1.0], [0.5, 0.5]))  # empty bins are floored, not infinite


def test_pure_measures_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="equal length"):
        psi([0.5, 0.5], [1.0])
    with pytest.raises(ValueError, match="non-negative"):
        psi([-0.1, 1.1], [0.5, 0.5])
    with pytest.raises(ValueError, match="at least one observation"):
        chi_square([0, 0], [0.5, 0.5])


def test_stationary_real_labels_shuffled_never_alert() -> None:
    labels = [r["airline_sentiment"] for r in airline_rows()]  # 14,640 real human labels
    random.Random(3).shuffle(labels)
    reference = {k: v / len(labels) for k, v in Counter(labels).items()}
    det = LabelDistributionDetector(reference)
    assert det.update_many(labels) == []
    assert det.n == len(labels) >= 5_000


@pytest.mark.parametrize("seed", range(5))
def test_stationary_simulated_never_alerts(seed: int) -> None:
    labels = labels_with_jump(seed, 6_000, 6_000, (0.3, 0.4, 0.3), 0.0)
    assert LabelDistributionDetector(dict(zip(LABELS, (0.3, 0.4, 0.3)))).update_many(labels) == []


@pytest.mark.parametrize("seed", range(5))
def test_negative_share_jump_of_20_points_alerts_once_within_500(seed: int) -> None:
    labels = labels_with_jump(seed, 8_000, 4_000, (0.3, 0.4, 0.3), 0.2)
    signals = LabelDistributionDetector(dict(zip(LABELS, (0.3, 0.4, 0.3)))).update_many(labels)
    assert len(signals) == 1
    s = signals[0]
    assert 4_000 < s.index <= 4_500
    assert s.rising_label == "negative" and s.p_value < 1e-4
    # JS is the size measure that trips on a common label growing; PSI (relative change) stays below its 0.2.
    assert s.js >= 0.1 and s.psi < 0.2


def test_real_airline_negatives_flooding_a_mixed_stream() -> None:
    rows = airline_rows()
    rng = random.Random(11)
    rng.shuffle(rows)
    by = {lab: [r for r in rows if r["airline_sentiment"] == lab] for lab in LABELS}
    # Balanced-ish traffic (reference) then a complaint wave: same tweets, negatives over-represented.
    calm = [r["airline_sentiment"] for r in by["negative"][:1500] + by["neutral"][:1500] + by["positive"][:1500]]
    rng.shuffle(calm)
    wave = [r["airline_sentiment"] for r in by["negative"][1500:3000] + by["neutral"][1500:2200] + by["positive"][1500:2200]]
    rng.shuffle(wave)
    det = LabelDistributionDetector(labels=LABELS)  # learns the reference from the first window
    signals = det.update_many(calm + wave)
    assert len(signals) == 1
    assert len(calm) < signals[0].index <= len(calm) + 500
    assert signals[0].rising_label == "negative"


def test_learned_reference_and_round_trip_mid_stream() -> None:
    labels = labels_with_jump(21, 7_000, 4_000, (0.63, 0.21, 0.16), 0.2)  # airline-like mix
    original = LabelDistributionDetector(labels=LABELS)
    original.update_many(labels[:3_000])
    assert original.reference is not None and original.reference["negative"] == pytest.approx(0.63, abs=0.05)
    restored = LabelDistributionDetector.from_state(json.loads(json.dumps(original.to_state())))
    a = [s.model_dump() for s in original.update_many(labels[3_000:])]
    b = [s.model_dump() for s in restored.update_many(labels[3_000:])]
    assert a == b and len(a) == 1


def test_rearms_only_after_returning_to_reference() -> None:
    ref = dict(zip(LABELS, (0.3, 0.4, 0.3)))
    shifted = labels_with_jump(1, 6_000, 1_000, (0.3, 0.4, 0.3), 0.2)
    back = labels_with_jump(2, 3_000, 3_000, (0.3, 0.4, 0.3), 0.0)
    again = labels_with_jump(3, 2_000, 0, (0.3, 0.4, 0.3), 0.2)
    det = LabelDistributionDetector(ref, LabelThresholds(cooldown=500))
    assert len(det.update_many(shifted)) == 1  # 5,000 drifted labels, one alert
    assert det.update_many(back) == []
    assert len(det.update_many(again)) == 1


def test_unknown_label_and_missing_reference_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="no reference distribution"):
        LabelDistributionDetector({})
    det = LabelDistributionDetector(dict(zip(LABELS, (0.3, 0.4, 0.3))))
    with pytest.raises(ValueError, match="same model version"):
        det.update("sarcastic")
