"""Every Kafka codec decodes in both Python clients; a batch that cannot be decoded is skipped with its reason.

The guard (streams.kafka.batches) is read by aiokafka's own PartitionRecords in the unit tests, and by a
real aiokafka consumer against the real Tansu broker, with raw batches written exactly as built.
Producers for the codecs are librdkafka (confluent-kafka), not the Python clients under test.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from streams.kafka.batches import BadBatch, GuardedRecords, guard_consumer
from tests.kafka_batches import CODECS, produce_librdkafka, produce_raw, raw_batch

TOPIC = "posts"
# (what is wrong, how the batch is built, what the reason says)
UNDECODABLE = [
    ("snappy flag on a raw payload", dict(codec_bits=2), "undecodable snappy batch"),
    ("gzip flag on a raw payload", dict(codec_bits=1), "undecodable gzip batch"),
    ("lz4 flag on a raw payload", dict(codec_bits=3), "undecodable lz4 batch"),
    ("zstd flag on a raw payload", dict(codec_bits=4), "undecodable zstd batch"),
    ("a codec Kafka does not define", dict(codec_bits=5), "undecodable unknown codec 5 batch"),
    ("a wrong CRC", dict(crc_ok=False), "CRC mismatch"),
]


def _read(fetched: bytes, position: int) -> tuple[list[int], list[BadBatch], int]:
    """What aiokafka's PartitionRecords yields from one guarded fetch: offsets, skipped batches, next position."""
    from aiokafka.consumer.fetcher import READ_UNCOMMITTED, PartitionRecords
    from aiokafka.record.memory_records import MemoryRecords
    from aiokafka.structs import TopicPartition

    tp = TopicPartition(TOPIC, 0)
    bad: list[BadBatch] = []
    records = GuardedRecords(MemoryRecords(fetched), tp, position, bad.append)
    partition = PartitionRecords(tp, records, [], position, None, None, True, READ_UNCOMMITTED)
    offsets = [r.offset for r in partition]
    return offsets, bad, partition.next_fetch_offset


@pytest.mark.parametrize("build, says", [case[1:] for case in UNDECODABLE], ids=[case[0] for case in UNDECODABLE])
def test_an_undecodable_batch_is_skipped_with_its_offsets_and_the_rest_is_read(build: dict, says: str) -> None:
    fetched = (raw_batch([b"a", b"b"], base_offset=0) + raw_batch([b"c", b"d", b"e"], base_offset=2, **build)
               + raw_batch([b"f"], base_offset=5))
    offsets, bad, position = _read(fetched, 0)
    assert (offsets, [(b.first_offset, b.last_offset) for b in bad], position, says in bad[0].reason) == (
        [0, 1, 5], [(2, 4)], 6, True)


def test_a_bad_batch_at_the_end_of_a_fetch_still_moves_the_position_past_it() -> None:
    offsets, bad, position = _read(raw_batch([b"c", b"d"], base_offset=7, codec_bits=2), 7)
    assert (offsets, len(bad), position) == ([], 1, 9)


def test_a_fetch_from_inside_a_bad_batch_reports_only_the_offsets_not_yet_read() -> None:
    _, bad, _ = _read(raw_batch([b"c", b"d", b"e"], base_offset=10, codec_bits=4), 11)
    assert [(b.first_offset, b.last_offset) for b in bad] == [(11, 12)]


def test_broken_framing_skips_one_offset_and_reads_no_further() -> None:
    good = raw_batch([b"a"], base_offset=3)
    broken = bytearray(raw_batch([b"x"], base_offset=4))
    broken[8:12] = (10).to_bytes(4, "big")  # a batch length shorter than any record could be
    offsets, bad, position = _read(good + bytes(broken) + raw_batch([b"z"], base_offset=5), 3)
    assert (offsets, [(b.first_offset, b.last_offset) for b in bad], position) == ([3], [(4, 4)], 5)


# ------------------------------------------------------------------ the real broker


@pytest.fixture
def topic(kafka_settings) -> str:  # type: ignore[no-untyped-def]
    return kafka_settings.topic(TOPIC)


def test_a_guarded_aiokafka_consumer_skips_raw_bad_batches_on_a_real_broker(kafka_bootstrap: str, topic: str) -> None:
    """Good and bad batches as written to the broker; the consumer gets every good record and each bad range."""
    good = [produce_raw(kafka_bootstrap, topic, 0, raw_batch([b"g%d" % i, b"h%d" % i])) for i in range(3)]
    bad = [produce_raw(kafka_bootstrap, topic, 0, raw_batch([b"x", b"y", b"z"], **build)) for _, build, _ in UNDECODABLE
           if build.get("codec_bits") != 5]  # Tansu refuses a codec Kafka does not define: it never reaches a consumer
    good.append(produce_raw(kafka_bootstrap, topic, 0, raw_batch([b"last"])))

    async def consume() -> tuple[list[int], list[BadBatch]]:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.structs import TopicPartition

        skipped: list[BadBatch] = []
        consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        guard_consumer(consumer, skipped.append)
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.seek_to_beginning()
        offsets: list[int] = []
        try:
            while not offsets or offsets[-1] < good[-1]:
                for messages in (await consumer.getmany(timeout_ms=10_000)).values():
                    offsets += [m.offset for m in messages]
        finally:
            await consumer.stop()
        return offsets, skipped

    offsets, skipped = asyncio.run(asyncio.wait_for(consume(), 60))
    expected = [o for base in good[:3] for o in (base, base + 1)] + [good[3]]
    assert (offsets, [(b.first_offset, b.last_offset) for b in skipped]) == (expected, [(b, b + 2) for b in bad])


def _librdkafka_topic_per_codec(bootstrap: str, n: int) -> dict[str, str]:
    from kafka.admin import KafkaAdminClient, NewTopic

    topics = {codec: f"codecs-{uuid.uuid4().hex[:8]}-{codec}" for codec in CODECS}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(t, 1, 1) for t in topics.values()])
    finally:
        admin.close()
    for codec, t in topics.items():
        produce_librdkafka(bootstrap, t, [(b"k%d" % i, b"value %d of %s " % (i, codec.encode()) * 20) for i in range(n)], codec)
    return topics


@pytest.fixture(scope="module")
def codec_topics(kafka_bootstrap: str) -> dict[str, str]:
    return _librdkafka_topic_per_codec(kafka_bootstrap, 300)


def test_kafka_python_reads_every_codec_librdkafka_writes(kafka_bootstrap: str, codec_topics: dict[str, str]) -> None:
    from kafka import KafkaConsumer

    read = {}
    for codec, t in codec_topics.items():
        consumer = KafkaConsumer(t, bootstrap_servers=kafka_bootstrap, group_id=None, auto_offset_reset="earliest",
                                 consumer_timeout_ms=10_000)
        messages = []
        for message in consumer:  # until 300, or 10 s without a record
            messages.append(message)
            if len(messages) == 300:
                break
        consumer.close()
        read[codec] = (len(messages), {h for m in messages for h in m.headers})
    assert read == {c: (300, {("producer", b"librdkafka"), ("codec", c.encode())}) for c in CODECS}


def test_aiokafka_reads_every_codec_librdkafka_writes(kafka_bootstrap: str, codec_topics: dict[str, str]) -> None:
    async def read_all() -> dict[str, tuple[int, set]]:
        from aiokafka import AIOKafkaConsumer

        read = {}
        for codec, t in codec_topics.items():
            consumer = AIOKafkaConsumer(t, bootstrap_servers=kafka_bootstrap, group_id=None, auto_offset_reset="earliest")
            await consumer.start()
            messages = []
            try:
                while len(messages) < 300:
                    batch = await consumer.getmany(timeout_ms=3000)
                    if not batch:
                        break
                    messages += [m for ms in batch.values() for m in ms]
            finally:
                await consumer.stop()
            read[codec] = (len(messages), {h for m in messages for h in m.headers})
        return read

    assert asyncio.run(read_all()) == {c: (300, {("producer", b"librdkafka"), ("codec", c.encode())}) for c in CODECS}
