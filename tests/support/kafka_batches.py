"""Test producers that bypass the Python clients: librdkafka (confluent-kafka) per codec, and raw batches.

A raw batch is written with a bare ProduceRequest, so it reaches the broker exactly as built: a corrupt
compressed payload with a valid CRC, a wrong CRC, or a codec number Kafka does not define (UNDECODABLE
lists those cases with the reason the guard must give).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
# Record batch v2 layout: base offset (8) + length (4) + leader epoch (4) + magic (1), then the CRC-32C (4)
# of everything from the attributes (2) on.
CRC_AT, ATTRIBUTES_AT = 17, 21


def produce_librdkafka(bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes]], codec: str,
                       partition: int | None = None) -> None:
    """(key, value) records through librdkafka with ``codec``, in batches of many records, with headers."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 50, "acks": "all",
                         "enable.idempotence": False})
    errors: list[object] = []
    for key, value in records:
        extra = {} if partition is None else {"partition": partition}
        producer.produce(topic, key=key, value=value, headers=[("producer", b"librdkafka"), ("codec", codec.encode())],
                         on_delivery=lambda err, _msg: err and errors.append(err), **extra)
        producer.poll(0)
    left = producer.flush(30)
    assert left == 0 and not errors, f"librdkafka could not deliver: {left} left, {errors[:3]}"


def raw_batch(values: Sequence[bytes], *, codec_bits: int | None = None, crc_ok: bool = True, base_offset: int = 0) -> bytes:
    """A v2 record batch of uncompressed ``values``; ``codec_bits`` claims another codec for that payload.

    The broker assigns the base offset on produce; ``base_offset`` is for batches read without one.
    """
    from aiokafka.record.default_records import DefaultRecordBatchBuilder
    from aiokafka.record.util import calc_crc32c

    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=0, producer_id=-1,
                                        producer_epoch=-1, base_sequence=-1, batch_size=1 << 24)
    for i, value in enumerate(values):
        builder.append(i, timestamp=None, key=None, value=value, headers=[])
    batch = bytearray(builder.build())
    struct.pack_into(">q", batch, 0, base_offset)  # outside the CRC
    if codec_bits is not None:
        attributes = struct.unpack_from(">h", batch, ATTRIBUTES_AT)[0]
        struct.pack_into(">h", batch, ATTRIBUTES_AT, (attributes & ~0x07) | codec_bits)
    crc = calc_crc32c(bytes(batch[ATTRIBUTES_AT:]))
    struct.pack_into(">I", batch, CRC_AT, crc if crc_ok else crc ^ 0xFFFFFFFF)
    return bytes(batch)


def produce_raw(bootstrap: str, topic: str, partition: int, batch: bytes) -> int:
    """Write one batch as it is; returns its base offset (raises if the broker refuses it)."""
    return asyncio.run(_produce_raw(bootstrap, topic, partition, batch))


async def _produce_raw(bootstrap: str, topic: str, partition: int, batch: bytes) -> int:
    from aiokafka.client import AIOKafkaClient
    from aiokafka.errors import for_code
    from aiokafka.protocol.produce import ProduceRequest
    from aiokafka.structs import TopicPartition

    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        await client.force_metadata_update()
        node = client.cluster.leader_for_partition(TopicPartition(topic, partition))
        request = ProduceRequest(transactional_id=None, required_acks=-1, timeout=10_000,
                                 topics=[(topic, [(partition, batch)])])
        response = await client.send(node, request)
        [(_, [(_, error_code, offset, *_)])] = response.topics
        if error_code:
            raise for_code(error_code)(f"the broker refused the raw batch for {topic}[{partition}]")
        return offset
    finally:
        await client.close()


# (what is wrong, how the batch is built, what the reason says)
UNDECODABLE = [
    ("snappy flag on a raw payload", dict(codec_bits=2), "undecodable snappy batch"),
    ("gzip flag on a raw payload", dict(codec_bits=1), "undecodable gzip batch"),
    ("lz4 flag on a raw payload", dict(codec_bits=3), "undecodable lz4 batch"),
    ("zstd flag on a raw payload", dict(codec_bits=4), "undecodable zstd batch"),
    ("a codec Kafka does not define", dict(codec_bits=5), "undecodable unknown codec 5 batch"),
    ("a wrong CRC", dict(crc_ok=False), "CRC mismatch"),
]
