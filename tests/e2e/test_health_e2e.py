"""World change vs model failure, end to end: real broker, real worker, chDB, real models, real tweets.

- A crisis: one airline's posts become its real negative tweets while an airline-tuned model scores
  the stream. The sentiment shift is reported (to Slack, with the brand) and nothing retrains.
- A domain shift: the general-tweet test model scores airline tweets. Model-health alerts fire and
  exactly one retrain request goes out; with human labels on the random sample, an airline-tuned
  challenger in shadow is promoted by the running worker.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.core.schemas import ModelEvent
from tests.support.airline import as_posts, split_rows
from tests.support.slack import Receiver
from tests.support.stack import Stack

BRANDS = ["United", "Delta", "Southwest"]
MODEL_HEALTH = {"labelled_performance", "estimated_performance", "input_drift"}


def interleave(by_brand: dict[str, list[dict[str, str]]], n_each: int) -> list[dict[str, str]]:
    return [by_brand[b][i] for i in range(n_each) for b in BRANDS]


def kinds(alerts: list[dict]) -> list[str]:
    return [a["kind"] for a in alerts]


@pytest.mark.timeout(1200)  # trains the airline model once, then a worker scores 3,300 posts
def test_a_crisis_is_a_sentiment_shift_for_the_brand_and_retrains_nothing(stack: Stack, airline_model: Path) -> None:
    _, stream = split_rows()
    normal = {b: [r for r in stream if r["airline"] == b] for b in BRANDS}
    # The crisis posts are United's own real complaints, held back from the normal part of the stream.
    crisis_pool = [r for r in normal["United"] if r["airline_sentiment"] == "negative"][-500:]
    normal["United"] = [r for r in normal["United"] if r not in crisis_pool]
    before = interleave(normal, 600)
    after_by_brand = {b: normal[b][600:1100] for b in BRANDS} | {"United": crisis_pool}
    after = interleave(after_by_brand, 500)
    with Receiver() as slack:
        worker = stack.worker(BRANDPULSE_MODEL_REF=str(airline_model), BRANDPULSE_SLACK_WEBHOOK_URL=slack.url,
                              BRANDPULSE_DRIFT_MIN_BRAND_POSTS="100").start()
        posts = as_posts(before, "crisis") + as_posts(after, "crisis", len(before))
        stack.produce(posts, keys=[b"one-partition"] * len(posts))
        worker.wait_for(lambda w: w.get("/stats")["posts_scored"] >= len(posts), timeout_s=400, what="all scored")
        alerts = [json.loads(v) for v in stack.consume_all("alerts", 1, timeout_s=10)]
        shifts = [a for a in alerts if a["kind"] == "sentiment_shift" and a["brand"] == "United"]
        assert shifts, kinds(alerts)
        assert "rising: negative" in shifts[0]["message"] and "Model health: estimated accuracy" in shifts[0]["message"]
        assert not MODEL_HEALTH & set(kinds(alerts)), [a["message"] for a in alerts]
        worker.wait_for(lambda w: any("United" in json.dumps(m) for m in slack.delivered), timeout_s=30,
                        what="the Slack message naming the brand")
        assert stack.consume_all("retrain-requests", 1, timeout_s=5) == []
        assert worker.get("/stats")["retrains_in_flight"] == []


@pytest.mark.timeout(900)  # a worker scores 1,200 posts
def test_a_domain_shift_raises_model_health_alerts_and_one_retrain_request(stack: Stack, trained_model: Path) -> None:
    _, stream = split_rows()
    rows = stream[:1200]
    worker = stack.worker(BRANDPULSE_MODEL_REF=str(trained_model)).start()
    stack.produce(as_posts(rows, "domain"), keys=[b"one-partition"] * len(rows))
    worker.wait_for(lambda w: w.get("/stats")["posts_scored"] >= len(rows), timeout_s=300, what="all scored")
    alerts = [json.loads(v) for v in stack.consume_all("alerts", 1, timeout_s=10)]
    health = [a for a in alerts if a["kind"] in MODEL_HEALTH]
    drift = [a for a in health if a["kind"] == "input_drift"]
    assert drift, [a["message"] for a in alerts]
    assert "on the encoder's sentence embeddings AUC" in drift[0]["message"]  # both input tests ran in the worker
    health_stats = worker.get("/stats")["health"]
    # The vectors came from the scoring pass itself: no text was embedded a second time.
    assert health_stats["vectors_from_scoring"] > 0 and health_stats["vectors_embedded_at_check"] == 0, health_stats
    retrain = [json.loads(v) for v in stack.consume_all("retrain-requests", 1, timeout_s=10)]
    assert len(retrain) == 1 and retrain[0]["alert_id"] in {a["alert_id"] for a in health}
    version = retrain[0]["model_version"]
    assert worker.get("/stats")["retrains_in_flight"] == [version]
    # The trainer closed it without a model: the worker re-arms at once instead of waiting for the expiry.
    closed = ModelEvent(action="retrain-closed", role="challenger", retrain_for=version, reason="rejected: test")
    stack.produce([closed.model_dump_json().encode()], topic="model-events")
    worker.wait_for(lambda w: w.get("/stats")["retrains_in_flight"] == [], what="the retrain request closed")


@pytest.mark.timeout(900)  # two models score 400 posts, then labels promote
def test_after_a_domain_shift_human_labels_promote_the_challenger_that_knows_the_domain(
    stack: Stack, trained_model: Path, airline_model: Path
) -> None:
    """The general-tweet champion scores airline tweets with an airline-tuned challenger in shadow; the
    flyback sample's human labels alone decide, and the worker promotes the challenger without a restart."""
    from models.registry import log_and_register
    from streams.core.configs import registry_config
    from streams.core.schemas import HumanLabel

    registry = registry_config(stack.settings)
    champion = log_and_register(trained_model, registry=registry, params={"test": "general"}, metrics={}, alias="champion")
    challenger = log_and_register(airline_model, registry=registry, params={"test": "airline"}, metrics={}, alias="challenger")
    _, stream = split_rows()
    rows = stream[:400]
    worker = stack.worker(
        BRANDPULSE_MODEL_REF="champion", BRANDPULSE_CHALLENGER_REF="challenger",
        BRANDPULSE_FLYBACK_RATE="1.0", BRANDPULSE_PROMOTION_MIN_LABELS="300",
    ).start()
    assert (worker.get("/stats")["champion"], worker.get("/stats")["challenger"]) == (champion, challenger)
    stack.produce(as_posts(rows, "shift"), keys=[b"one-partition"] * len(rows))
    worker.wait_for(lambda w: w.get("/stats")["posts_scored"] >= len(rows), timeout_s=300, what="all scored")
    assert worker.get("/stats")["champion"] == champion  # nothing is promoted without labels

    labels = [HumanLabel(post_id=f"shift-{i}", label=r["airline_sentiment"], annotator="test (gold)", text=r["text"])
              for i, r in enumerate(rows)]
    stack.produce([h.model_dump_json().encode() for h in labels], topic="labels")
    worker.wait_for(lambda w: w.get("/stats")["champion"] == challenger, timeout_s=120, what="the challenger promoted")
    events = [json.loads(v) for v in stack.consume_all("model-events", 1, timeout_s=10)]
    assert any(e.get("version") == challenger and e.get("role") == "champion" for e in events), events
    promoted = [a for a in (json.loads(v) for v in stack.consume_all("alerts", 1, timeout_s=10)) if a["kind"] == "promotion"]
    assert len(promoted) == 1 and promoted[0]["model_version"] == challenger, promoted
    assert "macro-F1" in promoted[0]["message"]
