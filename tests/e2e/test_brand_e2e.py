"""Brand alerts end to end: real broker, real worker and model, chDB, a local Slack receiver.

Four hours of real airline tweets (20 Feb 2015, all brands) and then an injected crisis: 250 real
"lost luggage" complaints about United within 10 minutes. The worker must raise exactly one brand
spike for United, store it in ``alerts``, publish it with its "why" on the alerts topic, send it to
Slack as Block Kit, answer ``/why`` with the same topic, and ask for no retrain because of it.
The statistics themselves are tested on the whole week in tests/drift/test_brand_alerts.py.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from drift.brand.config import BaselineConfig, BrandWatchConfig
from benchmarks.scenarios import inject_crisis, load_airline
from tests.support.data import AIRLINE_CSV, needs_shared_data
from tests.support.slack import Receiver
from tests.support.stack import Stack

UTC = dt.timezone.utc
CRISIS = dt.datetime(2015, 2, 20, 14, 0, tzinfo=UTC)
SPIKES = {"brand_volume_spike", "brand_negative_spike", "brand_positive_surge"}


@pytest.mark.timeout(900)  # a worker scores 4 h of tweets
def test_crisis_reaches_alerts_table_topic_slack_and_why(stack: Stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    needs_shared_data()
    corpus = load_airline(AIRLINE_CSV)
    stream, injected = inject_crisis(corpus, "United", "Lost Luggage", CRISIS, n=250, minutes=10)
    posts = [p for p in stream if CRISIS - dt.timedelta(hours=4) <= p.created_at < CRISIS + dt.timedelta(minutes=15)]
    # Four hours of history instead of the default twelve: shorter windows, same statistics.
    config = tmp_path / "brand-alerts.json"
    config.write_text(BrandWatchConfig(baseline=BaselineConfig(
        trailing_min=240, min_history_min=180, min_active_hours=3, min_baseline_count=20, local_min=60,
    )).model_dump_json())
    values = [json.dumps({"post_id": p.post_id, "text": p.text, "brand": p.brand, "created_at": p.created_at.isoformat()}).encode()
              for p in posts]
    with Receiver() as slack:
        worker = stack.worker(BRANDPULSE_SLACK_WEBHOOK_URL=slack.url, BRANDPULSE_BRAND_ALERT_CONFIG=str(config)).start()
        stack.produce(values, keys=[b"one-partition"] * len(values))  # one partition: the worker sees time order
        stats = worker.wait_for(lambda w: (s := w.get("/stats"))["posts_scored"] >= len(values) and s, what="all scored")
        assert stats["brand_watch"]["posts"] == len(values) and stats["brand_watch"]["late_posts"] == 0

        records = [json.loads(v) for v in stack.consume_all("alerts", 1, timeout_s=15)]
        spikes = [r for r in records if r["kind"] in SPIKES]
        assert [r["brand"] for r in spikes] == ["United"], records
        spike = spikes[0]
        assert dt.datetime.fromisoformat(spike["detected_at"]) - CRISIS <= dt.timedelta(minutes=3)
        topic_terms = [t["token"] for t in spike["why"]["terms"][:5]]
        assert {"bag", "bags", "luggage", "lost luggage"} & set(topic_terms), topic_terms
        assert set(spike["example_post_ids"]) <= {p.post_id for p in injected}

        worker.wait_for(lambda w: any("United" in json.dumps(m) for m in slack.delivered), timeout_s=30, what="the Slack message")
        message = next(m for m in slack.delivered if "United" in json.dumps(m))
        assert message["blocks"][0]["type"] == "header" and "United" in message["blocks"][0]["text"]["text"]
        assert "Mostly about" in json.dumps(message) and "no retrain" in json.dumps(message)

        # The same topic on demand, and the alert in the alerts table (read back through /why).
        why = worker.get("/why?brand=United&since=15m&until=2015-02-20T14:15:00&baseline=4h")
        assert {"bag", "bags", "luggage", "lost luggage"} & {t["token"] for t in why["terms"][:5]}, why["terms"]
        assert spike["alert_id"] in {a["alert_id"] for a in why["alerts"]}

        # Brand alerts never ask for a retrain.
        model_alerts = {r["alert_id"] for r in records if not r["kind"].startswith("brand_")}
        retrains = [json.loads(v) for v in stack.consume_all("retrain-requests", 10**6, timeout_s=3)]
        assert all(r["alert_id"] in model_alerts for r in retrains), (retrains, records)
