"""Promotion in the registry, and the event and alert that announce it (published by streams.kafka.announcer).

The registry (MLflow) is the source of truth for which version holds which alias; the
model-events topic only tells running workers to re-resolve an alias now. Events therefore name
the alias ('champion' / 'challenger'), and a worker that missed one still loads the right model
when it starts.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from drift.records import Alert, ModelEvent
from drift.shadow import ShadowReport
from models.registry import CHALLENGER, CHAMPION, RegistryConfig, alias_version, promote

log = logging.getLogger(__name__)


def promotion_alert(
    version: str, previous: str | None, reason: str, report: ShadowReport | None, at: dt.datetime | None = None
) -> Alert:
    """The human-readable record of a promotion (goes to Slack like any alert).

    ``at``: when, in the data's time (the newest post the deciding worker saw): its ``since``, so the
    promotion sits in a replayed stream's window on the dashboard. It is detected now, whatever the
    data's time: Slack judges an outcome's freshness by that.
    """
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
        since=at,
    )


def promote_in_registry(
    registry: RegistryConfig, version: str = CHALLENGER, *, reason: str = "", report: ShadowReport | None = None,
    at: dt.datetime | None = None,
) -> tuple[ModelEvent, Alert]:
    """Make ``version`` (alias, 'name/vN', models:/ URI) the champion in the registry.

    Returns the event that tells workers to load it and the alert that tells people; publishing
    them is the caller's (``streams.kafka.announcer.promote_and_announce``).
    """
    previous = alias_version(CHAMPION, registry=registry)
    promoted = promote(version, registry=registry)
    event = ModelEvent(role="champion", model_ref=CHAMPION, version=promoted, reason=reason or f"promoted {version}")
    log.info("promoted %s to champion (previous %s)", promoted, previous or "none")
    return event, promotion_alert(promoted, previous, reason, report, at)
