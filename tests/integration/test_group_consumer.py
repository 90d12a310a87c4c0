"""A group consumer whose loop works between short polls still joins its group and reads."""

from __future__ import annotations

import time

from streams.core.settings import Settings
from streams.kafka.group import group_consumer
from tests.support.kafka_io import produce


def test_a_loop_that_works_between_short_polls_joins_and_reads_its_record(kafka_settings: Settings) -> None:
    # The broker holds a join longer than one 100 ms poll, and the loop sleeps through the end of it;
    # kafka-python alone then sends a fresh JoinGroup each time and never reads (streams/kafka/group.py).
    produce(kafka_settings, "labels", [("k", b"one")])
    consumer = group_consumer(kafka_settings, "labels", group="slow-loop", client_id="slow-loop")
    seen: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while not seen and time.monotonic() < deadline:
            seen = [m.value for batch in consumer.poll(timeout_ms=100).values() for m in batch]
            time.sleep(1.0)  # the loop's own work
    finally:
        consumer.close()
    assert seen == [b"one"]
