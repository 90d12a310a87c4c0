from __future__ import annotations

import json
import random

import numpy as np
import pytest
from sklearn.metrics import f1_score

from drift.performance import (
    PerformanceConfig, PerformanceMonitor, bootstrap_macro_f1_upper, macro_f1, recall,
)
from drift.retraining.requests import RetrainCoalescer
from models.classification_metrics import bootstrap_gain_upper
from streams.core.schemas import Alert
from tests.support.data import airline_rows
from tests.support.drift import LABELS


def _noisy(human: list[str], error: float, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(rng.choice(LABELS) if rng.random() < error else h, h) for h in human]


def test_macro_f1_and_recall_match_sklearn_on_real_labels() -> None:
    human = [r["airline_sentiment"] for r in airline_rows()[:3_000]]
    pairs = _noisy(human, 0.3, 1)
    pred, true = zip(*pairs)
    assert macro_f1(pairs) == pytest.approx(f1_score(true, pred, average="macro"))
    assert recall(pairs, "negative") == pytest.approx(
        sum(p == h == "negative" for p, h in pairs) / sum(h == "negative" for h in true)
    )
    assert recall([("positive", "positive")], "negative") is None
    assert macro_f1([]) == 0.0


def test_sklearn_macro_f1_keeps_the_hand_written_values() -> None:
    # Values of the hand-written per-label F1 this module used before it took sklearn's.
    rng = random.Random(3)
    pairs = [(rng.choice(LABELS), rng.choice(LABELS[:2])) for _ in range(200)]
    assert LABELS == ["negative", "neutral", "positive"]
    assert macro_f1(pairs) == pytest.approx(0.2537599337319769, abs=1e-12)
    assert macro_f1([("a", "a"), ("a", "b"), ("c", "c")]) == pytest.approx(0.5555555555555555, abs=1e-12)


def test_each_bootstrap_resample_scores_like_macro_f1() -> None:
    rng = random.Random(5)
    pairs = [(rng.choice(LABELS), rng.choice(LABELS[:2])) for _ in range(60)]
    # With one resample every quantile is that resample's score; draw the same resample by hand.
    upper = bootstrap_macro_f1_upper(pairs, confidence=0.5, resamples=1, seed=11)
    draw = np.random.default_rng(11).integers(0, len(pairs), size=(1, len(pairs)))[0]
    assert upper == pytest.approx(macro_f1([pairs[i] for i in draw]))


def test_alerts_once_on_a_significant_drop_below_the_models_own_quality_and_rearms() -> None:
    human = [r["airline_sentiment"] for r in airline_rows()[:3_000]]
    mon = PerformanceMonitor(PerformanceConfig(window=300, min_labels=200))
    mon.set_baseline("m/1", 0.85)
    good = mon.observe_many("m/1", _noisy(human[:1_000], 0.03, 2))
    bad = [a for i in range(1_000, 2_000, 50) if (a := mon.observe_many("m/1", _noisy(human[i:i + 50], 0.4, i)))]
    assert good is None and len(bad) == 1
    alert = bad[0]
    assert alert.kind == "labelled_performance" and alert.statistic < 0.85 == alert.threshold
    assert "significantly below its validated 0.850" in alert.message and "negative recall" in alert.message
    assert mon.observe_many("m/1", _noisy(human[2_000:2_600], 0.02, 4)) is None  # recovered: re-armed
    assert mon.observe_many("m/1", _noisy(human[2_600:3_000], 0.5, 5)) is not None
    restored = PerformanceMonitor.from_state(json.loads(json.dumps(mon.to_state())))
    assert restored.snapshot("m/1") == mon.snapshot("m/1") and restored.baseline("m/1") == 0.85


def test_a_re_armed_version_alerts_again_while_its_labels_stay_bad() -> None:
    human = [r["airline_sentiment"] for r in airline_rows()[:1_000]]
    mon = PerformanceMonitor(PerformanceConfig(window=300, min_labels=200))
    mon.set_baseline("m/1", 0.85)
    first = mon.observe_many("m/1", _noisy(human[:300], 0.4, 1))
    held = mon.observe_many("m/1", _noisy(human[300:400], 0.4, 2))
    mon.rearm("m/1")
    again = mon.observe_many("m/1", _noisy(human[400:500], 0.4, 3))
    assert (first is not None, held is None, again is not None) == (True, True, True)


def test_a_drop_within_sampling_noise_does_not_alert() -> None:
    human = [r["airline_sentiment"] for r in airline_rows()[:3_000]]
    pairs = _noisy(human[:200], 0.12, 7)
    mon = PerformanceMonitor(PerformanceConfig(window=200, min_labels=200, min_drop=0.0))
    f1 = macro_f1(pairs)
    mon.set_baseline("m/1", f1 + 0.02)  # 2 points under its validated quality on 200 labels: noise
    assert mon.observe_many("m/1", pairs) is None
    assert bootstrap_macro_f1_upper(pairs) > f1 + 0.02


def test_without_a_baseline_only_the_optional_floor_alerts() -> None:
    bad = [("negative", "positive")] * 150 + [("positive", "positive")] * 100
    assert PerformanceMonitor().observe_many("m/1", bad) is None  # floor off by default
    floored = PerformanceMonitor(PerformanceConfig(f1_floor=0.6)).observe_many("m/1", bad)
    assert floored is not None and "floor 0.60" in floored.message


def test_no_alert_before_min_labels() -> None:
    mon = PerformanceMonitor(PerformanceConfig(min_labels=200))
    mon.set_baseline("m/1", 0.8)
    assert mon.observe_many("m/1", [("negative", "positive")] * 199) is None
    assert mon.observe("m/1", "negative", "positive") is not None


def _alert(kind: str, version: str = "m/1", n: int = 0) -> Alert:
    return Alert(alert_id=f"a{n}", kind=kind, detector="d", statistic=0.2, threshold=0.1, model_version=version)  # type: ignore[arg-type]


def test_coalescer_one_request_in_flight_per_version() -> None:
    co = RetrainCoalescer()
    first = co.offer(_alert("input_drift", n=1))
    assert first is not None and first.model_version == "m/1" and first.alert_id == "a1"
    assert co.offer(_alert("estimated_performance", n=2)) is None
    assert co.offer(_alert("labelled_performance", n=3)) is None
    assert co.coalesced("m/1") == 2
    other = co.offer(_alert("input_drift", version="m/2", n=4))
    assert other is not None
    assert co.offer(_alert("promotion", version="m/3", n=5)) is None  # not a trigger
    restored = RetrainCoalescer.from_state(json.loads(json.dumps(co.to_state())))
    assert restored.in_flight("m/1") == first
    assert restored.complete("m/1") == first
    again = restored.offer(_alert("input_drift", n=6))
    assert again is not None and again.request_id != first.request_id
    # replaying the same alert gives the same request id (trainer can dedupe)
    assert RetrainCoalescer().offer(_alert("input_drift", n=1)).request_id == first.request_id  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="cannot trigger"):
        RetrainCoalescer(["promotion"])


def test_a_retrain_that_never_reported_back_expires() -> None:
    import datetime as dt

    from drift.retraining.requests import RetrainCoalescer
    from streams.core.schemas import Alert

    def alert(i: int, hours: float) -> Alert:
        return Alert(alert_id=f"a{i}", kind="input_drift", detector="d", statistic=0.9, threshold=0.1,
                     model_version="m/v1", detected_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(hours=hours))

    c = RetrainCoalescer(expire_after=dt.timedelta(hours=6))
    first = c.offer(alert(1, 0))
    assert first is not None
    assert c.offer(alert(2, 1)) is None  # coalesced while in flight
    again = c.offer(alert(3, 7))  # the first never completed: a new request after the expiry
    assert again is not None and again.request_id != first.request_id


def test_each_paired_resample_scores_both_models_on_the_same_posts() -> None:
    rng = random.Random(8)
    gold = [rng.choice(LABELS) for _ in range(80)]
    new = [g if rng.random() < 0.7 else rng.choice(LABELS) for g in gold]
    old = [g if rng.random() < 0.5 else rng.choice(LABELS) for g in gold]
    upper = bootstrap_gain_upper(gold, new, old, confidence=0.5, resamples=1, seed=3)
    draw = np.random.default_rng(3).integers(0, len(gold), size=(1, len(gold)))[0]
    assert upper == pytest.approx(
        macro_f1([(new[i], gold[i]) for i in draw]) - macro_f1([(old[i], gold[i]) for i in draw])
    )
    with pytest.raises(ValueError, match="same non-empty posts"):
        bootstrap_gain_upper(gold, new[:-1], old)


def test_the_gain_bound_tells_a_real_loss_from_noise_on_real_labels() -> None:
    gold = [r["airline_sentiment"] for r in airline_rows()[:150]]  # the trainer's held-out part at 500 labels
    champion = [p for p, _ in _noisy(gold, 0.35, 1)]
    # A different model, not a degraded copy: it fixes 10 of the champion's errors and makes 14 new
    # ones — a net loss of 4 posts, which 24 disagreements on 150 posts cannot tell from luck.
    right = [i for i, (p, g) in enumerate(zip(champion, gold)) if p == g][:14]
    wrong = [i for i, (p, g) in enumerate(zip(champion, gold)) if p != g][:10]
    slightly_worse = [
        gold[i] if i in wrong else next(x for x in LABELS if x != p) if i in right else p for i, p in enumerate(champion)
    ]
    much_worse = [p for p, _ in _noisy(gold, 0.75, 3)]
    assert macro_f1(list(zip(slightly_worse, gold))) < macro_f1(list(zip(champion, gold)))
    assert bootstrap_gain_upper(gold, slightly_worse, champion) > 0  # a point loss within noise
    assert bootstrap_gain_upper(gold, much_worse, champion) < 0
    assert bootstrap_gain_upper(gold, champion, champion) == 0.0
