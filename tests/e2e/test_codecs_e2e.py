"""Compressed and undecodable batches from producers that are not the worker's own, on a live worker.

Real Tansu broker, real Faust worker process, real fine-tuned model, chDB. Posts come from librdkafka
(confluent-kafka) in every codec Kafka has, with record headers, as producers in the wild send them;
undecodable batches are written raw, exactly as built. A snappy batch used to end the worker (rc 1)
and meet it again on every restart.
"""

from __future__ import annotations

import json

import pytest

from tests.support.data import airline_sample
from tests.support.kafka_batches import CODECS, produce_librdkafka, produce_raw, raw_batch
from tests.support.net import free_port
from tests.support.stack import Stack, Worker, stored_total

PER_CODEC = 200


def _posts(n: int, seed: int = 42) -> list[tuple[bytes, bytes]]:
    from streams.kafka.replay import PRESET_TIME_FORMATS, PRESETS, rows_to_posts

    posts = rows_to_posts(airline_sample(n).sample(frac=1.0, random_state=seed), PRESETS["airline"],
                          time_format=PRESET_TIME_FORMATS["airline"], platform="twitter")
    return [(str(p["post_id"]).encode(), json.dumps(p, default=str).encode()) for p in posts]


def _stopped_cleanly(worker: Worker) -> str:
    """The log of a worker stopped by us; the test fails if it crashed or dead-lettered on the way."""
    assert worker.proc is not None and worker.proc.poll() is None, f"worker exited:\n{worker.log_tail()}"
    worker.stop()
    log = worker.log_path.read_text(errors="replace")
    assert "Crashed" not in log and "Drain messages raised" not in log, log[-3000:]
    return log


@pytest.mark.timeout(600)  # a worker starts and stores posts
def test_posts_in_every_codec_from_librdkafka_are_stored_exactly_once(stack: Stack) -> None:
    posts = _posts(PER_CODEC * len(CODECS))
    worker = stack.worker().start()
    for i, codec in enumerate(CODECS):  # the order that once ended the worker at the first snappy batch
        produce_librdkafka(stack.env["BRANDPULSE_TEST_KAFKA"], stack.topic("posts"), posts[i * PER_CODEC:(i + 1) * PER_CODEC], codec)
    worker.wait_for(lambda w: stored_total(w) >= len(posts), timeout_s=300, what=f"{len(posts)} posts stored")
    _stopped_cleanly(worker)

    store = stack.store()
    stored = {r["post_id"]: r["n"] for r in store.query("SELECT post_id, count() n FROM brandpulse.posts GROUP BY post_id")}
    dead = store.scalar("SELECT count() FROM brandpulse.dead_letters")
    assert (stored, dead) == ({key.decode(): 1 for key, _ in posts}, 0)


@pytest.mark.timeout(600)  # a worker starts and stores posts
def test_an_undecodable_batch_is_a_dead_letter_and_the_worker_keeps_going(stack: Stack) -> None:
    """On one partition: good posts, three batches no client can decode, more good posts. The bad ones are
    dead letters with their topic, partition, offsets and reason; every good post is stored once."""
    bootstrap, topic = stack.env["BRANDPULSE_TEST_KAFKA"], stack.topic("posts")
    posts = _posts(300)
    before, after = posts[:150], posts[150:]
    # Valid posts inside: were a bad batch read at all, its posts would be stored and counted.
    decoy = [json.dumps({"post_id": f"undecodable-{i}", "text": "@united hi", "created_at": "2015-02-24T11:00:00Z"}).encode()
             for i in range(3)]
    bad = {
        "snappy": raw_batch(decoy, codec_bits=2),   # flagged snappy, not compressed: the decompressor fails
        "crc": raw_batch(decoy, crc_ok=False),      # a CRC that does not match its bytes
        "zstd": raw_batch(decoy, codec_bits=4),
    }
    worker = stack.worker().start()
    produce_librdkafka(bootstrap, topic, before, "lz4", partition=0)
    ranges = {name: produce_raw(bootstrap, topic, 0, batch) for name, batch in bad.items()}
    produce_librdkafka(bootstrap, topic, after, "snappy", partition=0)
    worker.wait_for(lambda w: stored_total(w) >= len(posts) and w.get("/stats")["dead_letters"] >= len(bad),
                    timeout_s=240, what="every good post stored and each bad batch dead-lettered")
    on_topic = [json.loads(v) for v in stack.consume_all("deadletter", len(bad))]
    _stopped_cleanly(worker)

    store = stack.store()
    expected = sorted((topic, 0, base, base + len(decoy) - 1) for base in ranges.values())
    dead = store.query("SELECT error_kind, source_topic, partition, offset, last_offset, reason "
                       "FROM brandpulse.dead_letters FINAL ORDER BY offset")
    stored = {r["post_id"]: r["n"] for r in store.query("SELECT post_id, count() n FROM brandpulse.posts GROUP BY post_id")}
    assert sorted((d["source_topic"], d["partition"], d["offset"], d["last_offset"]) for d in dead) == expected
    assert sorted((d["source_topic"], d["partition"], d["offset"], d["last_offset"]) for d in on_topic) == expected
    assert {d["error_kind"] for d in dead} == {"undecodable_batch"}
    assert [d["reason"].split(":")[0] for d in dead] == ["undecodable snappy batch", "undecodable none batch",
                                                        "undecodable zstd batch"]
    assert "CRC mismatch" in dead[1]["reason"]
    assert stored == {key.decode(): 1 for key, _ in posts}


def _committed(stack: Stack, partition: int, key: str = "posts", group: str | None = None) -> int | None:
    """The consumer group's committed offset on one partition of a topic (the embedded worker's group by default)."""
    from kafka import KafkaAdminClient
    from kafka.structs import TopicPartition

    group, tp = group or stack.env["BRANDPULSE_APP_ID"], TopicPartition(stack.topic(key), partition)
    admin = KafkaAdminClient(bootstrap_servers=stack.env["BRANDPULSE_TEST_KAFKA"])
    try:
        done = admin.list_group_offsets({group: [tp]}).get(group, {}).get(tp)
    finally:
        admin.close()
    return None if done is None or done.offset < 0 else done.offset  # -1: nothing committed


@pytest.mark.timeout(600)  # a worker starts and stores posts
def test_the_commit_moves_past_a_dead_lettered_batch_met_first_after_a_restart(stack: Stack) -> None:
    """The bad batch is the first record the restarted worker reads on its partition: the group's commit still
    moves past it (to the end), so no later restart meets it again."""
    bootstrap, topic = stack.env["BRANDPULSE_TEST_KAFKA"], stack.topic("posts")
    posts = _posts(100)
    worker = stack.worker().start()
    produce_librdkafka(bootstrap, topic, posts[:50], "zstd", partition=0)
    worker.wait_for(lambda w: stored_total(w) >= 50 and _committed(stack, 0) == 50, what="50 posts stored and committed")
    _stopped_cleanly(worker)

    produce_raw(bootstrap, topic, 0, raw_batch([b"{}", b"{}"], codec_bits=2))
    produce_librdkafka(bootstrap, topic, posts[50:], "gzip", partition=0)
    restarted = stack.worker().start()
    restarted.wait_for(lambda w: stored_total(w) >= len(posts) and w.get("/stats")["dead_letters"] >= 1,
                       what="every post stored and the bad batch dead-lettered")
    end = 102  # 50 posts, the 2-record bad batch, 50 posts
    restarted.wait_for(lambda _: _committed(stack, 0) == end, what=f"the group's commit on partition 0 at {end}")
    _stopped_cleanly(restarted)


@pytest.mark.timeout(600)  # a worker starts and stores posts
def test_split_roles_a_scorer_dead_letters_an_undecodable_batch_and_the_store_role_stores_it(stack: Stack) -> None:
    """The scoring process has no ClickHouse: its dead letter reaches the table through the dead-letter topic."""
    bootstrap, topic = stack.env["BRANDPULSE_TEST_KAFKA"], stack.topic("posts")
    posts = _posts(60)
    store, scorer = (stack.worker(BRANDPULSE_ROLES=role, BRANDPULSE_WEB_PORT=str(free_port()), BRANDPULSE_THREADS="1")
                     for role in ("store", "score"))
    store.start()
    scorer.start()
    produce_librdkafka(bootstrap, topic, posts[:30], "lz4", partition=0)
    base = produce_raw(bootstrap, topic, 0, raw_batch([b"{}"] * 4, codec_bits=4))
    produce_librdkafka(bootstrap, topic, posts[30:], "zstd", partition=0)
    store.wait_for(lambda w: stored_total(w) >= len(posts) and scorer.get("/stats")["dead_letters"] >= 1,
                   timeout_s=180, what="every post stored and the bad batch dead-lettered by the scorer")
    _stopped_cleanly(scorer)
    group, partitions = f"{stack.env['BRANDPULSE_APP_ID']}-store", range(stack.settings.topic_partitions)
    # The store role commits a dead letter once it is in ClickHouse: the topic holds this one.
    store.wait_for(lambda _: sum(_committed(stack, p, "deadletter", group) or 0 for p in partitions) == 1,
                   what="the dead letter stored and committed by the store role")
    _stopped_cleanly(store)

    dead = stack.store().query("SELECT error_kind, source_topic, partition, offset, last_offset FROM brandpulse.dead_letters FINAL")
    assert dead == [{"error_kind": "undecodable_batch", "source_topic": topic, "partition": 0, "offset": base,
                     "last_offset": base + 3}]


@pytest.mark.timeout(600)  # a worker starts and stores posts
def test_an_undecodable_model_event_batch_is_a_dead_letter_and_the_follower_goes_on(stack: Stack) -> None:
    """The model-event follower is a plain aiokafka consumer of its own, guarded the same way. Its log names
    each readable record it cannot parse as a model event: that shows where it is."""
    bootstrap, topic = stack.env["BRANDPULSE_TEST_KAFKA"], stack.topic("model-events")
    worker = stack.worker().start()

    def followed(offset: int) -> bool:
        return f"ignoring malformed model event at offset {offset}" in worker.log_path.read_text(errors="replace")

    # The follower starts at the end of the topic: write readable non-events until it has read one.
    probes = [produce_raw(bootstrap, topic, 0, raw_batch([b"not an event"]))]

    def probe_read(_: Worker) -> bool:
        if any(followed(offset) for offset in probes):
            return True
        probes.append(produce_raw(bootstrap, topic, 0, raw_batch([b"not an event"])))  # the last may predate it
        return False

    worker.wait_for(probe_read, timeout_s=60, what="the follower reading the topic")
    bad = produce_raw(bootstrap, topic, 0, raw_batch([b"{}", b"{}"], codec_bits=2))
    after = produce_raw(bootstrap, topic, 0, raw_batch([b"not an event"]))
    worker.wait_for(lambda w: followed(after) and w.get("/stats")["dead_letters"] >= 1, what="the follower past the bad batch")
    _stopped_cleanly(worker)
    dead = stack.store().query("SELECT source_topic, partition, offset, last_offset FROM brandpulse.dead_letters FINAL")
    assert dead == [{"source_topic": topic, "partition": 0, "offset": bad, "last_offset": bad + 1}]
