"""Model changes, made in the registry and announced on Kafka so every worker follows without restart.

The registry (MLflow) is the source of truth for which version holds which alias; the
model-events topic only tells running workers to re-resolve an alias now. Events therefore name
the alias ('champion' / 'challenger'), and a worker that missed one still loads the right model
when it starts.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from drift.shadow import ShadowReport
from drift.records import Alert, ModelEvent
from streams.settings import Settings

log = logging.getLogger(__name__)


def announce(settings: Settings, *, events: Sequence[ModelEvent] = (), alerts: Sequence[Alert] = ()) -> None:
    """Publish model events and alerts, and return only once the broker has acknowledged them."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", retries=5, client_id="brandpulse-announce"
    )
    try:
        futures = [
            producer.send(settings.topic("model-events"), value=e.model_dump_json().encode()) for e in events
        ] + [producer.send(settings.topic("alerts"), value=a.model_dump_json().encode()) for a in alerts]
        producer.flush()
        for f in futures:
            f.get(timeout=30)  # surfaces a failed send instead of losing the announcement silently
    finally:
        producer.close()


def promotion_alert(version: str, previous: str | None, reason: str, report: ShadowReport | None) -> Alert:
    """The human-readable record of a promotion (goes to Slack like any alert)."""
    message = f"Promoted {version} to champion" + (f" (was {previous})" if previous else "") + "."
    if reason:
        message += f" {reason}"
    if report is not None:
        message += f" Shadow: {report.summary()}."
    return Alert(
        alert_id=uuid.uuid4().hex,
        kind="promotion",
        detector="shadow_comparison" if report is not None else "manual",
        statistic=report.challenger_macro_f1 if report is not None else 0.0,
        threshold=report.champion_macro_f1 if report is not None else 0.0,
        window=report.n_labels if report is not None else 0,
        model_version=version,
        message=message,
    )


def promote_and_announce(
    settings: Settings, version: str = "challenger", *, reason: str = "", report: ShadowReport | None = None
) -> ModelEvent:
    """Make ``version`` (alias, 'name/vN', models:/ URI) the champion and tell every worker to load it.

    Returns the event published on the model-events topic; a promotion alert goes to the alerts topic.
    """
    from models.registry import CHAMPION, alias_version, promote

    previous = alias_version(CHAMPION, settings=settings)
    promoted = promote(version, settings=settings)
    event = ModelEvent(role="champion", model_ref=CHAMPION, version=promoted, reason=reason or f"promoted {version}")
    announce(settings, events=[event], alerts=[promotion_alert(promoted, previous, reason, report)])
    log.info("promoted %s to champion (previous %s) and announced it", promoted, previous or "none")
    return event
