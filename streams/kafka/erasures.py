"""The erasure list: which post ids were erased, for the processes that hold copies the store cannot reach.

A Kafka record cannot be edited or deleted, so an erased post can still sit in the label-requests
topic (the labeller would show it to a person) and in the trainer's own label file. Erasure puts
each covered post id on this list first (:func:`streams.store.protocol.erase_everywhere`); the
labeller and the trainer read it and skip those posts, and the trainer drops their labels.

Why a compacted topic, not a table in ClickHouse: the labeller and trainer never open the store
(with embedded chDB only the worker may, and the trainer keeps its own state by design), while every
process already reads Kafka. Keyed by the post id's hash with ``cleanup.policy=compact``, the broker
keeps one record per erased post for ever and any reader gets the whole list by reading from the
start. A tombstone in the label-requests topic itself would not do: that topic is not compacted, and
its readers would still meet the record before the tombstone. The list holds SHA-256 hashes, never
a post id, an author or text.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable

from pydantic import BaseModel, Field

from streams.core.schemas import utcnow
from streams.core.settings import Settings
from streams.store.protocol import sha256_hex

log = logging.getLogger(__name__)

TOPIC_KEY = "erasures"


class ErasedPost(BaseModel):
    """One record of the erasure list (its Kafka key is ``post_sha256`` too)."""

    post_sha256: str = Field(min_length=64, max_length=64)
    erased_at: dt.datetime = Field(default_factory=utcnow)


def publish_erased(settings: Settings, post_ids: Iterable[str], timeout_s: float = 30.0) -> int:
    """Put these post ids on the erasure list; returns once the broker has acknowledged every record."""
    from kafka import KafkaProducer

    from streams.kafka.security import open_client

    records = [ErasedPost(post_sha256=sha256_hex(p)) for p in dict.fromkeys(post_ids)]
    if not records:
        return 0
    producer = open_client(KafkaProducer, settings, acks="all", retries=5, client_id="brandpulse-erase",
                           max_block_ms=int(timeout_s * 1000))
    try:
        futures = [producer.send(settings.topic(TOPIC_KEY), key=r.post_sha256.encode(), value=r.model_dump_json().encode())
                   for r in records]
        producer.flush(timeout=timeout_s)
        for f in futures:
            f.get(timeout=timeout_s)  # a lost record would let a queued copy of an erased post through
    finally:
        producer.close()
    return len(records)


class ErasureList:
    """The erasure list as one reader sees it: read from the start, then caught up on :meth:`refresh`."""

    def __init__(self, settings: Settings, timeout_s: float = 30.0) -> None:
        from kafka import KafkaConsumer, TopicPartition

        from streams.kafka.security import open_client

        self.topic = settings.topic(TOPIC_KEY)
        self.timeout_s = timeout_s
        self.hashes: set[str] = set()
        self._consumer = open_client(KafkaConsumer, settings, group_id=None, enable_auto_commit=False,
                                     client_id="brandpulse-erasure-list")
        try:
            partitions = self._partitions(timeout_s)
            self._partitions_read = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            self._consumer.assign(self._partitions_read)
            self._consumer.seek_to_beginning(*self._partitions_read)
            self.refresh()
        except BaseException:
            self._consumer.close()
            raise

    def _partitions(self, timeout_s: float) -> set[int]:
        deadline = time.monotonic() + timeout_s
        while True:
            partitions = self._consumer.partitions_for_topic(self.topic)
            if partitions:
                return partitions
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the erasure list topic {self.topic} does not exist: create it with `brandpulse topics` "
                    "(erased posts must not be offered for labelling)"
                )
            time.sleep(0.2)

    def refresh(self) -> set[str]:
        """Read what was added since the last call; returns the new hashes.

        Reading stops at the end offsets the broker reports and one empty poll after them: Tansu
        reports the end of a batch of several records as just past its first one."""
        end = self._consumer.end_offsets(self._partitions_read)
        deadline = time.monotonic() + self.timeout_s
        new: set[str] = set()
        while True:
            batches = self._consumer.poll(timeout_ms=100)
            for messages in batches.values():
                for msg in messages:
                    try:
                        record = ErasedPost.model_validate_json(msg.value or b"")
                    except ValueError as exc:
                        log.error("ignoring a malformed erasure-list record at offset %d: %s", msg.offset, exc)
                        continue
                    if record.post_sha256 not in self.hashes:
                        new.add(record.post_sha256)
            if not batches and all(self._consumer.position(tp) >= end[tp] for tp in self._partitions_read):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read the erasure list ({self.topic}) within {self.timeout_s:.0f}s")
        self.hashes |= new
        return new

    def __contains__(self, post_id: object) -> bool:
        return isinstance(post_id, str) and sha256_hex(post_id) in self.hashes

    def __len__(self) -> int:
        return len(self.hashes)

    def close(self) -> None:
        self._consumer.close()
