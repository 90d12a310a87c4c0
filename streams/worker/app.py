"""The Faust application and its topics, made from :class:`streams.core.settings.Settings`."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from streams.core.settings import Settings
from streams.core.web_auth import aiohttp_guard, require_safe_bind
from streams.kafka.security import faust_credentials
from streams.worker import consumer
from streams.worker.role_names import group_id, is_embedded, parse_roles


def create_app(settings: Settings) -> faust.App:
    """The worker's Faust app; raises :class:`streams.core.web_auth.UnsafeBind` for a web port beyond
    loopback without a token (its views serve the store's data and /metrics)."""
    roles = parse_roles(settings.roles)
    require_safe_bind(settings, settings.web_host, "the worker's web server")
    # Faust creates its folder without parents, before anything else made the state directory.
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    # Faust hands these to aiohttp's Application: the guard then covers every route, Faust's own pages too.
    web_options = {"middlewares": [aiohttp_guard(settings.web_token)]} if settings.web_token is not None else {}
    app = faust.App(
        group_id(settings.app_id, roles),
        # Split roles: a rebalance (a process joining, or one killed) must not wait for unacknowledged
        # records. The watch role holds its acks until the next state save, which comes with the next
        # batch, which a stream suspended for the rebalance never delivers: the wait would never end.
        # It is not needed either: every role's effects are idempotent (the watch role filters posts
        # it has seen), and an unacknowledged batch is redelivered to the partition's next owner.
        # The one-process default keeps Faust's wait, so its shutdown finishes the batch in flight.
        stream_wait_empty=is_embedded(roles),
        broker=settings.kafka_url,
        # TLS / SASL of the worker's consumers and producers; the same settings as every other client.
        broker_credentials=faust_credentials(settings.kafka_security),
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
        # Faust's own folder (the default is "<app id>-data" in the current directory): beside the
        # process's other state, never in whatever directory it was started from.
        datadir=settings.state_dir / "faust",
        web_enabled=True,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_application_options=web_options,
        autodiscover=False,
    )
    # A batch no client could decode is dead-lettered and skipped, not the end of the worker.
    consumer.install(app)
    return app


@dataclass(frozen=True)
class Topics:
    """The worker's topics, raw bytes in and out: records are parsed (and rejected) by the pipeline."""

    posts: faust.TopicT
    scored: faust.TopicT
    deadletter: faust.TopicT
    alerts: faust.TopicT
    label_requests: faust.TopicT
    labels: faust.TopicT
    retrain: faust.TopicT
    model_events: faust.TopicT

    @classmethod
    def on(cls, app: faust.App, settings: Settings) -> "Topics":
        def raw(key: str, partitions: int | None = None) -> faust.TopicT:
            return app.topic(settings.topic(key), key_serializer="raw", value_serializer="raw",
                             partitions=partitions or settings.topic_partitions)

        return cls(
            posts=raw("posts"), scored=raw("scored"), deadletter=raw("deadletter"), alerts=raw("alerts", 1),
            label_requests=raw("label-requests"), labels=raw("labels"), retrain=raw("retrain-requests", 1),
            model_events=raw("model-events", 1),
        )
