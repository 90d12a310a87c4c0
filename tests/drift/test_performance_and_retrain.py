from __future__ import annotations

import json
import random

import pytest
from sklearn.metrics import f1_score

from drift.performance import PerformanceConfig, PerformanceMonitor, macro_f1, recall
from drift.retrain import RetrainCoalescer
from streams.schemas import Alert
from tests.drift.helpers import LABELS, airline_rows


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


def test_alerts_once_when_f1_drops_and_rearms_after_recovery() -> None:
    human = [r["airline_sentiment"] for r in airline_rows()[:3_000]]
    mon = PerformanceMonitor(PerformanceConfig(window=300, min_labels=200))
    good = mon.observe_many("m/1", _noisy(human[:1_000], 0.03, 2))
    bad = mon.observe_many("m/1", _noisy(human[1_000:2_000], 0.4, 3))
    assert good == [] and len(bad) == 1
    alert = bad[0]
    assert alert.kind == "labelled_performance" and alert.statistic < 0.85 == alert.threshold
    assert "negative recall" in alert.message
    recovered = mon.observe_many("m/1", _noisy(human[2_000:2_600], 0.02, 4))
    assert recovered == []
    again = mon.observe_many("m/1", _noisy(human[2_600:3_000], 0.5, 5))
    assert len(again) == 1
    restored = PerformanceMonitor.from_state(json.loads(json.dumps(mon.to_state())))
    assert restored.snapshot("m/1") == mon.snapshot("m/1")


def test_no_alert_before_min_labels() -> None:
    mon = PerformanceMonitor(PerformanceConfig(min_labels=200))
    assert mon.observe_many("m/1", [("negative", "positive")] * 199) == []
    assert mon.observe("m/1", "negative", "positive") is not None


def _alert(kind: str, version: str = "m/1", n: int = 0) -> Alert:
    return Alert(alert_id=f"a{n}", kind=kind, detector="d", statistic=0.2, threshold=0.1, model_version=version)  # type: ignore[arg-type]


def test_coalescer_one_request_in_flight_per_version() -> None:
    co = RetrainCoalescer()
    first = co.offer(_alert("label_drift", n=1))
    assert first is not None and first.model_version == "m/1" and first.alert_id == "a1"
    assert co.offer(_alert("confidence_drift", n=2)) is None
    assert co.offer(_alert("labelled_performance", n=3)) is None
    assert co.coalesced("m/1") == 2
    other = co.offer(_alert("label_drift", version="m/2", n=4))
    assert other is not None
    assert co.offer(_alert("promotion", version="m/3", n=5)) is None  # not a trigger
    restored = RetrainCoalescer.from_state(json.loads(json.dumps(co.to_state())))
    assert restored.in_flight("m/1") == first
    assert restored.complete("m/1") == first
    again = restored.offer(_alert("label_drift", n=6))
    assert again is not None and again.request_id != first.request_id
    # replaying the same alert gives the same request id (trainer can dedupe)
    assert RetrainCoalescer().offer(_alert("label_drift", n=1)).request_id == first.request_id  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="cannot trigger"):
        RetrainCoalescer(["promotion"])


def test_a_retrain_that_never_reported_back_expires() -> None:
    import datetime as dt

    from drift.retrain import RetrainCoalescer
    from streams.schemas import Alert

    def alert(i: int, hours: float) -> Alert:
        return Alert(alert_id=f"a{i}", kind="label_drift", detector="d", statistic=0.3, threshold=0.1,
                     model_version="m/v1", detected_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(hours=hours))

    c = RetrainCoalescer(expire_after=dt.timedelta(hours=6))
    first = c.offer(alert(1, 0))
    assert first is not None
    assert c.offer(alert(2, 1)) is None  # coalesced while in flight
    again = c.offer(alert(3, 7))  # the first never completed: a new request after the expiry
    assert again is not None and again.request_id != first.request_id
