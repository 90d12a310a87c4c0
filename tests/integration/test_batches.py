"""Every Kafka codec decodes in both Python clients, and a real aiokafka consumer with the guard
(streams.kafka.batches) skips raw bad batches written to the real Tansu broker exactly as built.
Producers for the codecs are librdkafka (confluent-kafka), not the Python clients under test.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from streams.kafka.batches import BadBatch, guard_consumer
from tests.support.kafka_batches import CODECS, UNDECODABLE, produce_librdkafka, produce_raw, raw_batch

TOPIC = "posts"
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
