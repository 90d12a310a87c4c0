"""The Faust application and its topics, configured from :class:`streams.core.settings.Settings`."""

from __future__ import annotations

import faust

from streams.worker.role_names import group_id, is_embedded, parse_roles
from streams.core.settings import Settings, get_settings


def create_app(settings: Settings) -> faust.App:
    roles = parse_roles(settings.roles)
    return faust.App(
        group_id(settings.app_id, roles),
        # Split roles: a rebalance (a process joining, or one killed) must not wait for unacknowledged
        # records. The watch role holds its acks until the next state save, which comes with the next
        # batch, which a stream suspended for the rebalance never delivers: the wait would never end.
        # It is not needed either: every role's effects are idempotent (the watch role filters posts
        # it has seen), and an unacknowledged batch is redelivered to the partition's next owner.
        # The one-process default keeps Faust's wait, so its shutdown finishes the batch in flight.
        stream_wait_empty=is_embedded(roles),
        broker=settings.kafka_url,
        broker_session_timeout=settings.session_timeout_s,
        # Heartbeats must be well inside the session timeout or Tansu/Kafka evicts the member.
        broker_heartbeat_interval=max(settings.session_timeout_s / 3, 1.0),
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # A record over this is refused by the client and dead-lettered (publish_rejected), not retried.
        producer_max_request_size=settings.max_message_bytes,
        # Topics are created explicitly with their partition counts (streams.kafka.topics).
        topic_allow_declare=False,
        topic_disable_leader=True,
        store="memory://",
        web_enabled=True,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        autodiscover=False,
    )


settings = get_settings()
roles = parse_roles(settings.roles)
app = create_app(settings)


def _raw_topic(key: str, partitions: int | None = None) -> faust.TopicT:
    return app.topic(
        settings.topic(key), key_serializer="raw", value_serializer="raw",
        partitions=partitions or settings.topic_partitions,
    )


posts_topic = _raw_topic("posts")
scored_topic = _raw_topic("scored")
deadletter_topic = _raw_topic("deadletter")
alerts_topic = _raw_topic("alerts", 1)
label_requests_topic = _raw_topic("label-requests")
labels_topic = _raw_topic("labels")
retrain_topic = _raw_topic("retrain-requests", 1)
model_events_topic = _raw_topic("model-events", 1)
