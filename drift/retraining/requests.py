"""Alerts in, at most one in-flight retraining request per model version out.

Which alerts retrain (:func:`is_model_health`, the decision table in docs/monitoring.md): only evidence
about the model — a significant drop of labelled macro-F1, a fall of the label-free estimated
accuracy (CBPE), input drift against the checkpoint's reference texts, or a fall of the overall
confidence. A shift in the predicted label mix (``sentiment_shift``) is a fact about the brands and
never retrains by itself; nor do a brand's confidence moving (its posts changed) or confidence rising.

A real model problem raises several alerts — confidence, estimated accuracy, input drift, then
labelled performance once labels arrive. Retraining is expensive and one retrain
answers all of them, so the first triggering alert for a model version opens a
``RetrainRequest``; later alerts for that version only increase its coalesced count until the
training pipeline calls :meth:`RetrainCoalescer.complete` (trained, rejected or failed), which
re-arms the version. Pure: no I/O, JSON state.

The request id is derived from the alert id, so replaying the same alert after a crash yields the
same request id and the trainer can deduplicate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection
from typing import Any

from drift.records import Alert, AlertKind, RetrainRequest

MODEL_HEALTH: frozenset[AlertKind] = frozenset(
    {"labelled_performance", "estimated_performance", "input_drift", "confidence_drift"}
)
DEFAULT_TRIGGERS = MODEL_HEALTH


def is_model_health(alert: Alert) -> bool:
    """Whether an alert is evidence that the model (not the world) changed: the retrain decision."""
    if alert.kind == "confidence_drift":
        # Overall confidence falling: the model is less sure of what it reads. A brand's confidence
        # moving, or confidence rising, follows a change in what people say about it.
        return alert.brand is None and alert.statistic < 0
    return alert.kind in MODEL_HEALTH


class RetrainCoalescer:
    def __init__(
        self, trigger_kinds: Collection[AlertKind] = DEFAULT_TRIGGERS, expire_after: dt.timedelta = dt.timedelta(hours=6)
    ) -> None:
        unknown = set(trigger_kinds) - MODEL_HEALTH
        if unknown:
            raise ValueError(
                f"alert kinds {sorted(unknown)} cannot trigger retraining (they are not about model health); "
                f"use some of {sorted(MODEL_HEALTH)}"
            )
        self.trigger_kinds = frozenset(trigger_kinds)
        # The trainer announces every outcome on model-events (a challenger, or "retrain-closed");
        # the expiry is the backstop for a trainer that died before it could say anything.
        self.expire_after = expire_after
        self._in_flight: dict[str, RetrainRequest] = {}
        self._coalesced: dict[str, int] = {}

    def accepts(self, alert: Alert) -> bool:
        """Whether the alert asks for a retrain: it opens a request, or joins the one in flight."""
        return alert.kind in self.trigger_kinds and is_model_health(alert)

    def offer(self, alert: Alert) -> RetrainRequest | None:
        """A new request if this alert should start a retrain; None if ignored or coalesced."""
        if not self.accepts(alert):
            return None
        version = alert.model_version
        pending = self._in_flight.get(version)
        if pending is not None and alert.detected_at - pending.requested_at < self.expire_after:
            self._coalesced[version] += 1
            return None
        request = RetrainRequest(
            request_id=hashlib.sha256(f"{version}|{alert.alert_id}".encode()).hexdigest()[:32],
            model_version=version,
            reason=f"{alert.kind}: {alert.message}".strip(),
            alert_id=alert.alert_id,
            requested_at=alert.detected_at,
        )
        self._in_flight[version] = request
        self._coalesced[version] = 0
        return request

    def complete(self, model_version: str) -> RetrainRequest | None:
        """Mark the version's retrain finished (any outcome); returns the request it closed."""
        self._coalesced.pop(model_version, None)
        return self._in_flight.pop(model_version, None)

    def in_flight(self, model_version: str) -> RetrainRequest | None:
        return self._in_flight.get(model_version)

    def versions_in_flight(self) -> list[str]:
        return sorted(self._in_flight)

    def coalesced(self, model_version: str) -> int:
        """Alerts absorbed by the version's in-flight request."""
        return self._coalesced.get(model_version, 0)

    def to_state(self) -> dict[str, Any]:
        return {
            "trigger_kinds": sorted(self.trigger_kinds),
            "in_flight": {v: r.model_dump(mode="json") for v, r in self._in_flight.items()},
            "coalesced": dict(self._coalesced),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RetrainCoalescer:
        co = cls(state["trigger_kinds"])
        co._in_flight = {v: RetrainRequest.model_validate(r) for v, r in state["in_flight"].items()}
        co._coalesced = {v: int(n) for v, n in state["coalesced"].items()}
        return co
