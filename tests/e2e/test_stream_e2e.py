"""End to end: real Tansu broker → real Faust worker process → real fine-tuned model → chDB."""

from __future__ import annotations

import json
import threading

import pandas as pd
import pytest

from tests.support.data import airline_sample
from tests.support.net import is_free
from tests.support.stack import Stack, stored_total
from tests.support.waiting import wait_for


MALFORMED: list[bytes] = (
    [b"{not json at all"] * 10
    + [b"\xff\xfe\xfa not utf-8"] * 10
    + [json.dumps({"post_id": f"nt{i}", "created_at": "2015-02-24T11:00:00Z"}).encode() for i in range(10)]  # no text
    + [json.dumps({"post_id": f"e{i}", "text": "", "created_at": "2015-02-24T11:00:00Z"}).encode() for i in range(5)]
    + [json.dumps({"post_id": f"h{i}", "text": "@united " + "x" * 10_001, "created_at": "2015-02-24T11:00:00Z"}).encode() for i in range(5)]
    + [json.dumps({"post_id": f"b{i}", "text": "hello", "created_at": "2015-02-24T11:00:00Z", "brand": "Acme"}).encode() for i in range(5)]
    + [json.dumps({"post_id": f"t{i}", "text": "@united hi", "created_at": "not a time"}).encode() for i in range(5)]
)
assert len(MALFORMED) == 50


@pytest.mark.timeout(600)  # a worker scores 2,000 posts
def test_replay_2000_tweets_plus_50_malformed(stack: Stack) -> None:
    df = airline_sample()
    worker = stack.worker().start()
    stack.replay(df)
    stack.produce(MALFORMED)
    worker.wait_for(lambda w: stored_total(w) >= 2000 and w.get("/stats")["dead_letters"] >= 50, what="2000 posts + 50 dead letters")
    dead_on_topic = stack.consume_all("deadletter", 50)
    scored_on_topic = stack.consume_all("scored", 2000)
    worker.stop()

    store = stack.store()
    assert store.scalar("SELECT uniqExact(post_id) FROM brandpulse.scored_posts") == 2000
    assert store.scalar("SELECT count() FROM brandpulse.posts") == 2000
    counts = {r["brand"]: r["n"] for r in store.query("SELECT brand, count() n FROM brandpulse.posts GROUP BY brand")}
    assert counts == df["airline"].value_counts().to_dict()
    labels = {r["label"] for r in store.query("SELECT DISTINCT label FROM brandpulse.posts")}
    assert labels == {"negative", "neutral", "positive"}

    dead = store.query("SELECT error_kind, reason, value_b64 FROM brandpulse.dead_letters FINAL")
    assert len(dead) == 50 and all(d["reason"] and d["value_b64"] for d in dead)
    kinds = pd.Series([d["error_kind"] for d in dead]).value_counts().to_dict()
    assert kinds == {"malformed_json": 10, "not_utf8": 10, "schema": 20, "too_large": 5, "unknown_brand": 5}
    assert len(dead_on_topic) == 50
    assert all(json.loads(v)["reason"] for v in dead_on_topic)
    assert len({json.loads(v)["post_id"] for v in scored_on_topic}) == 2000


@pytest.mark.timeout(900)  # two workers score 2,000 posts, one killed
def test_kill_9_mid_stream_loses_and_duplicates_nothing(stack: Stack) -> None:
    df = airline_sample()
    worker = stack.worker().start()
    producer = threading.Thread(target=stack.replay, args=(df, 150.0))
    producer.start()
    worker.wait_for(lambda w: w.get("/stats")["posts_scored"] >= 400, what="some posts scored")
    worker.kill9()  # no shutdown, no commit of in-flight offsets
    port = int(worker.env["BRANDPULSE_WEB_PORT"])
    wait_for(lambda: is_free(port), 30, "the killed worker's web port to be free")
    restarted = stack.worker().start()
    producer.join()
    restarted.wait_for(lambda w: stored_total(w) >= 2000, timeout_s=240, what="all 2000 posts stored")
    # Once every offset is committed nothing the killed worker left unacknowledged can come back.
    restarted.wait_for(lambda w: stack.committed(stack.group(), "posts") >= 2000, timeout_s=60,
                       what="the offsets of all 2000 posts committed")
    restarted.stop()

    store = stack.store()
    assert store.scalar("SELECT count() FROM brandpulse.posts") == 2000
    assert store.scalar("SELECT uniqExact(post_id) FROM brandpulse.posts") == 2000
    trend_total = store.scalar("SELECT sum(n) FROM (SELECT brand, uniqExactMerge(posts) n FROM brandpulse.brand_minute GROUP BY brand)")
    assert trend_total == 2000


def test_a_worker_that_crashes_in_native_code_exits_rather_than_freezing(stack: Stack) -> None:
    """The worker's embedded chDB took the fatal signals and turned an abort into a process frozen for ever."""
    import signal

    worker = stack.worker().start()
    assert worker.proc is not None
    worker.proc.send_signal(signal.SIGABRT)
    assert worker.proc.wait(60) == -signal.SIGABRT
