"""Poison records on a live partition: each one is dead-lettered with its reason, every valid post around
it is stored exactly once, and the partition keeps moving, with and without a kill -9 in the middle.

Real Tansu broker, real Faust worker process, real fine-tuned model, chDB. Every record goes to one
partition so a stalled record would hold up every post behind it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest
from kafka import KafkaProducer

from tests.support.data import airline_sample
from tests.support.stack import Stack, Worker


T = "2015-02-24T11:00:00Z"
TWO_MB = 2 * 1024 * 1024


def _poison() -> list[tuple[bytes, str]]:
    """(record, expected error_kind) for every record that once crashed the agent or stalled a partition."""
    nested = b"[" * 5000 + b"]" * 5000
    return [
        (nested, "too_deep"),
        (b'{"post_id": "n1", "text": "@united hi", "created_at": "' + T.encode() + b'", "metadata": ' + nested + b"}", "too_deep"),
        (b'{"post_id": "a\\ud800", "text": "@united hi", "created_at": "' + T.encode() + b'"}', "schema"),
        (json.dumps({"post_id": "big-text", "text": "@united " + "x" * TWO_MB, "created_at": T}).encode(), "too_large"),
        (json.dumps({"post_id": "big-meta", "text": "@united hi", "created_at": T, "metadata": {"blob": "y" * TWO_MB}}).encode(), "too_large"),
        (b'{"post_id": "nan", "text": "@united hi", "created_at": "' + T.encode() + b'", "metadata": {"x": NaN}}', "malformed_json"),
        (b'{"post_id": ' + b"9" * 5000 + b', "text": "@united hi", "created_at": "' + T.encode() + b'"}', "malformed_json"),
        (b'{"post_id": "dup", "text": "@united a", "text": "@delta b", "created_at": "' + T.encode() + b'"}', "malformed_json"),
    ]


def _valid(df) -> list[tuple[str, bytes]]:  # type: ignore[no-untyped-def]
    from streams.kafka.replay import PRESET_TIME_FORMATS, PRESETS, rows_to_posts

    posts = rows_to_posts(df, PRESETS["airline"], time_format=PRESET_TIME_FORMATS["airline"], platform="twitter")
    return [(str(p["post_id"]), json.dumps(p, default=str).encode()) for p in posts]


def _interleave(valid: list[tuple[str, bytes]], poison: list[tuple[bytes, str]]) -> list[bytes]:
    out = [v for _, v in valid]
    step = len(out) // (len(poison) + 1)
    for i, (record, _) in enumerate(reversed(poison)):
        out.insert(step * (len(poison) - i), record)
    return out


def _produce_one_partition(stack: Stack, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=stack.env["BRANDPULSE_TEST_KAFKA"], acks="all", linger_ms=5,
                             max_request_size=4 * TWO_MB)
    for v in values:
        producer.send(stack.topic("posts"), value=v, partition=0)
    producer.flush()
    producer.close()


def _batches_over(worker: Worker, seconds: float) -> float:
    """Batches that took longer than ``seconds`` (from the worker's Prometheus histogram)."""
    import httpx

    text = httpx.get(worker.base_url + "/metrics", timeout=30).raise_for_status().text
    buckets = {float(le): float(v) for le, v in re.findall(r'brandpulse_batch_seconds_bucket\{le="([^"+]+)"\} (\S+)', text)}
    total = float(re.search(r"brandpulse_batch_seconds_count (\S+)", text).group(1))  # type: ignore[union-attr]
    return total - max(v for le, v in buckets.items() if le <= seconds)


def _check_store(stack: Stack, valid: list[tuple[str, bytes]], poison: list[tuple[bytes, str]]) -> None:
    store = stack.store()
    assert store.scalar("SELECT count() FROM brandpulse.posts") == len(valid)
    assert store.scalar("SELECT uniqExact(post_id) FROM brandpulse.posts") == len(valid)
    assert {r["post_id"] for r in store.query("SELECT post_id FROM brandpulse.posts")} == {pid for pid, _ in valid}
    dead = store.query("SELECT error_kind, reason, value_b64, value_bytes, value_sha256, truncated FROM brandpulse.dead_letters FINAL")
    assert sorted(d["error_kind"] for d in dead) == sorted(kind for _, kind in poison)
    assert all(d["reason"] for d in dead)
    by_sha = {d["value_sha256"]: d for d in dead}
    for record, kind in poison:
        d = by_sha[hashlib.sha256(record).hexdigest()]
        assert d["error_kind"] == kind and d["value_bytes"] == len(record)
        head = base64.b64decode(d["value_b64"])
        assert record.startswith(head) and d["truncated"] == (len(head) < len(record))


@pytest.mark.timeout(600)  # a worker scores 600 posts on one partition
def test_poison_records_are_dead_lettered_and_the_partition_keeps_moving(stack: Stack) -> None:
    valid, poison = _valid(airline_sample(600)), _poison()
    worker = stack.worker().start()
    _produce_one_partition(stack, _interleave(valid, poison))
    worker.wait_for(lambda w: w.get("/stats")["posts_scored"] >= len(valid) and w.get("/stats")["dead_letters"] >= len(poison),
                    timeout_s=240, what="every valid post scored and every poison record dead-lettered")
    # Nothing was retried: a deterministic error retried with backoff is what stalls a partition.
    # (No timing bound: this machine's load decides how long a batch takes, not the records.)
    assert _batches_over(worker, 30.0) == 0, "a batch took longer than the longest backoff"
    on_topic = stack.consume_all("deadletter", len(poison))
    worker.stop()

    log = worker.log_path.read_text(errors="replace")
    assert "retrying in" not in log and "Crashed" not in log, log[-3000:]
    assert len(on_topic) == len(poison) and all(len(v) < 64 * 1024 for v in on_topic)
    _check_store(stack, valid, poison)


@pytest.mark.timeout(900)  # two workers, one killed
def test_poison_records_with_a_kill_9_in_the_middle(stack: Stack) -> None:
    valid, poison = _valid(airline_sample(600)), _poison()
    values = _interleave(valid, poison)
    half = len(values) // 2
    worker = stack.worker().start()
    _produce_one_partition(stack, values[:half])
    worker.wait_for(lambda w: w.get("/stats")["posts_scored"] >= 100, what="some posts scored")
    worker.kill9()
    restarted = stack.worker().start()
    _produce_one_partition(stack, values[half:])
    restarted.wait_for(lambda w: sum(w.get("/brands").values()) >= len(valid), timeout_s=240, what="every valid post stored")
    # Once every offset is committed nothing the killed worker left unacknowledged can come back.
    restarted.wait_for(lambda w: stack.committed(stack.group(), "posts") >= len(values), timeout_s=60,
                       what="the offsets of every record committed")
    restarted.stop()
    log = restarted.log_path.read_text(errors="replace")
    assert "retrying in" not in log and "Crashed" not in log, log[-3000:]
    _check_store(stack, valid, poison)


@pytest.mark.timeout(600)  # a worker starts and scores
def test_a_record_kafka_refuses_is_dead_lettered_not_retried(stack: Stack) -> None:
    """A scored record over the worker's message size is stored, dead-lettered as publish_rejected, and the
    stream goes on (it used to crash the agent and lose the dead letter)."""
    valid = _valid(airline_sample(50))
    huge = json.dumps({"post_id": "huge", "text": "@united " + "long story " * 8000, "created_at": T}).encode()
    worker = stack.worker(BRANDPULSE_MAX_MESSAGE_BYTES="65536", BRANDPULSE_MAX_TEXT_CHARS="100000").start()
    _produce_one_partition(stack, [v for _, v in valid[:25]] + [huge] + [v for _, v in valid[25:]])
    worker.wait_for(lambda w: w.get("/stats")["posts_scored"] >= 50 and w.get("/stats")["dead_letters"] >= 1,
                    what="50 posts scored and one dead letter")
    dead = [json.loads(v) for v in stack.consume_all("deadletter", 1)]
    scored = {json.loads(v)["post_id"] for v in stack.consume_all("scored", 50)}
    worker.stop()

    assert [(d["error_kind"], d["post_id"], d["value_bytes"], d["truncated"]) for d in dead] == [("publish_rejected", "huge", len(huge), True)]
    assert scored == {pid for pid, _ in valid}
    store = stack.store()
    assert store.scalar("SELECT count() FROM brandpulse.posts") == 51  # stored before the send was refused
    assert store.scalar("SELECT error_kind FROM brandpulse.dead_letters FINAL WHERE post_id = 'huge'") == "publish_rejected"


@pytest.mark.timeout(300)  # a store process starts (it loads no model)
def test_the_store_role_dead_letters_a_record_on_the_scored_topic_it_cannot_read(stack: Stack) -> None:
    """Split roles: the store process stores and publishes a ``schema`` dead letter for a record that is no scored row."""
    store = stack.worker(BRANDPULSE_ROLES="store").start()
    stack.produce([b'{"post_id": "not-a-scored-row"}'], topic="scored")
    store.wait_for(lambda w: w.get("/stats")["dead_letters"] >= 1, what="the record dead-lettered")
    published = [json.loads(v)["error_kind"] for v in stack.consume_all("deadletter", 1)]
    store.stop()
    stored = [r["error_kind"] for r in stack.store().query("SELECT error_kind FROM brandpulse.dead_letters FINAL")]
    assert (published, stored) == (["schema"], ["schema"])
