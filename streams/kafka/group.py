"""A kafka-python consumer in a consumer group, for the processes outside the Faust worker (trainer,
labeller, demo annotator).

kafka-python 3.0.12 drops a JoinGroup that finished while no ``poll`` was waiting on it and sends a
new one. A join lasts as long as the broker holds it (Tansu: about half the session timeout; Kafka:
until every member has rejoined), so a loop that polls for 500 ms and then works for a while can
rejoin for ever and never read a record (seen in CI: a trainer stuck for 300 s). While the member has
no settled assignment, ``poll`` therefore waits long enough for a whole join; once assigned it keeps
the caller's short timeout.
"""

from __future__ import annotations

import threading
from typing import Any

from streams.core.settings import Settings


class GroupConsumer:
    """``poll``, ``commit``, ``assignment`` and ``close`` of a kafka-python consumer in ``<app_id>-<group>``."""

    def __init__(self, consumer: Any, topics: list[str], join_wait_ms: int) -> None:
        from kafka import ConsumerRebalanceListener

        self._consumer = consumer
        self._join_wait_ms = join_wait_ms
        self._settled = threading.Event()
        settled = self._settled

        class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
            def on_partitions_revoked(self, revoked: Any) -> None:
                settled.clear()

            def on_partitions_assigned(self, assigned: Any) -> None:
                settled.set()

        consumer.subscribe(topics, listener=_Listener())

    @property
    def joining(self) -> bool:
        """True until the group has handed this member its partitions, and again during each rebalance."""
        return not self._settled.is_set()

    def poll(self, timeout_ms: int, max_records: int | None = None) -> dict[Any, list[Any]]:
        wait = max(timeout_ms, self._join_wait_ms) if self.joining else timeout_ms
        return self._consumer.poll(timeout_ms=wait, max_records=max_records)  # type: ignore[no-any-return]

    def commit(self, offsets: dict[Any, Any] | None = None) -> None:
        self._consumer.commit(offsets)

    def assignment(self) -> set[Any]:
        return self._consumer.assignment()  # type: ignore[no-any-return]

    def close(self) -> None:
        self._consumer.close()


def group_consumer(settings: Settings, *keys: str, group: str, client_id: str, **overrides: object) -> GroupConsumer:
    """A consumer of these topics in the ``<app_id>-<group>`` group that commits only when told to.

    Timeouts follow the settings so every brandpulse process behaves the same with Tansu and Kafka.
    """
    from kafka import KafkaConsumer

    from streams.kafka.security import open_client

    session_ms = int(settings.session_timeout_s * 1000)
    config: dict[str, object] = {
        "group_id": f"{settings.app_id}-{group}",
        "client_id": client_id,
        "auto_offset_reset": "earliest",
        "enable_auto_commit": False,
        "session_timeout_ms": session_ms,
        "heartbeat_interval_ms": max(session_ms // 3, 1000),
    }
    config.update(overrides)
    consumer = open_client(KafkaConsumer, settings, **config)
    # Three session timeouts cover Tansu's join (half of one) and a Kafka rebalance among live members.
    return GroupConsumer(consumer, [settings.topic(k) for k in keys], join_wait_ms=max(3 * session_ms, 10_000))
