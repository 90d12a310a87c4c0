"""Records in and out of a test's topics, by topic key (``settings.topic(key)``)."""

from __future__ import annotations

from streams.core.settings import Settings
from tests.support.broker import read_topic


def produce(settings: Settings, key: str, records: list[tuple[str | None, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=10)
    for k, v in records:
        producer.send(settings.topic(key), key=k.encode() if k else None, value=v)
    producer.flush()
    producer.close()


def consume(settings: Settings, key: str, timeout_s: float, until: int = 1) -> list[bytes]:
    return read_topic(settings.kafka_bootstrap, settings.topic(key), until, timeout_s)
