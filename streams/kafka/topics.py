"""Kafka topic names and the partition layout every process agrees on.

Topics are created explicitly (``brandpulse broker`` / ``brandpulse topics create``) rather than
auto-created by clients: Tansu does not auto-create, and in production the partition count is an
operational decision, not a side effect of the first producer.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.core.settings import Settings


@dataclass(frozen=True, slots=True)
class TopicSpec:
    key: str
    purpose: str
    partitioned: bool = True  # False: a single partition keeps global order (control topics)
    compacted: bool = False  # True: the broker keeps the newest record per key for ever (a list, not a log)


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("posts", "raw posts from producers (JSON, validated by the worker)"),
    TopicSpec("scored", "one record per scored post and model role"),
    TopicSpec("deadletter", "records that failed validation or processing, with the reason and original bytes"),
    TopicSpec("alerts", "drift and performance alerts", partitioned=False),
    TopicSpec("label-requests", "posts sampled for human labelling (flyback + uncertain)"),
    TopicSpec("labels", "human labels"),
    TopicSpec("retrain-requests", "requests for the trainer worker", partitioned=False),
    TopicSpec("model-events", "tell workers to load a champion/challenger without restart", partitioned=False),
    TopicSpec("erasures", "SHA-256 of erased post ids: the labeller and trainer skip them", partitioned=False, compacted=True),
)


def topic_partitions(settings: Settings) -> dict[str, int]:
    """Full topic name → partition count."""
    return {settings.topic(t.key): settings.topic_partitions if t.partitioned else 1 for t in TOPICS}


def create_topics(settings: Settings, timeout_s: float = 30.0) -> list[str]:
    """Create any missing brandpulse topics; returns the names created."""
    import time

    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    from streams.kafka.security import KafkaConnectError, open_client

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = open_client(KafkaAdminClient, settings, client_id="brandpulse-admin")
            break
        except (KafkaError, KafkaConnectError) as exc:
            # A broker that is still starting is waited for; a refused password or certificate is final.
            if time.monotonic() > deadline or (isinstance(exc, KafkaConnectError) and not exc.retriable):
                raise
            time.sleep(0.5)
    try:
        existing = set(admin.list_topics())
        wanted = topic_partitions(settings)
        compacted = {settings.topic(t.key) for t in TOPICS if t.compacted}
        missing = [
            NewTopic(name, n, settings.topic_replication,
                     topic_configs={"cleanup.policy": "compact"} if name in compacted else {})
            for name, n in wanted.items() if name not in existing
        ]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another process won the race; the topic is there, which is all we need
        return [t.name for t in missing]
    finally:
        admin.close()


def is_record_refused(exc: BaseException) -> bool:
    """True when Kafka refuses this record itself (too large, corrupt, bad timestamp), so sending it
    again can never succeed; False when the broker is unavailable and a retry may.

    Faust wraps client errors in ``ProducerSendError``; the Kafka error is its cause.
    """
    from aiokafka.errors import (
        CorruptRecordException,
        InvalidTimestampError,
        MessageSizeTooLargeError,
        RecordListTooLargeError,
        RecordTooLargeError,
    )

    refused = (CorruptRecordException, InvalidTimestampError, MessageSizeTooLargeError, RecordListTooLargeError,
               RecordTooLargeError)
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, refused):
            return True
        seen = seen.__cause__
    return False
