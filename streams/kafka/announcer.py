"""Publishes model events and alerts on Kafka: how a promotion or a retrain outcome reaches every worker."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from drift.promotion import promote_in_registry
from drift.records import Alert, ModelEvent
from drift.shadow import ShadowReport
from streams.core.configs import registry_config
from streams.core.settings import Settings

log = logging.getLogger(__name__)


def announce(settings: Settings, *, events: Sequence[ModelEvent] = (), alerts: Sequence[Alert] = ()) -> None:
    """Publish model events and alerts, and return only once the broker has acknowledged them."""
    from kafka import KafkaProducer

    from streams.kafka.security import open_client

    producer = open_client(KafkaProducer, settings, acks="all", retries=5, client_id="brandpulse-announce")
    try:
        futures = [
            producer.send(settings.topic("model-events"), value=e.model_dump_json().encode()) for e in events
        ] + [producer.send(settings.topic("alerts"), value=a.model_dump_json().encode()) for a in alerts]
        producer.flush()
        for f in futures:
            f.get(timeout=30)  # surfaces a failed send instead of losing the announcement silently
    finally:
        producer.close()


def promote_and_announce(
    settings: Settings, version: str = "challenger", *, reason: str = "", report: ShadowReport | None = None,
    at: dt.datetime | None = None,
) -> ModelEvent:
    """Make ``version`` the champion and tell every worker to load it.

    Returns the event published on the model-events topic; a promotion alert goes to the alerts topic.
    """
    event, alert = promote_in_registry(registry_config(settings), version, reason=reason, report=report, at=at)
    announce(settings, events=[event], alerts=[alert])
    return event
