"""Alerts in, at most one in-flight retraining request per model version out.

A real shift raises several alerts — confidence and label mix, globally and for the affected
brands, then labelled performance once labels arrive. Retraining is expensive and one retrain
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

from streams.schemas import Alert, AlertKind, RetrainRequest

DEFAULT_TRIGGERS: frozenset[AlertKind] = frozenset({"confidence_drift", "label_drift", "labelled_performance"})


class RetrainCoalescer:
    def __init__(
        self, trigger_kinds: Collection[AlertKind] = DEFAULT_TRIGGERS, expire_after: dt.timedelta = dt.timedelta(hours=6)
    ) -> None:
        unknown = set(trigger_kinds) - {"confidence_drift", "label_drift", "labelled_performance"}
        if unknown:
            raise ValueError(
                f"alert kinds {sorted(unknown)} cannot trigger retraining; "
                "use confidence_drift, label_drift and/or labelled_performance"
            )
        self.trigger_kinds = frozenset(trigger_kinds)
        # The trainer announces every outcome on model-events (a challenger, or "retrain-closed");
        # the expiry is the backstop for a trainer that died before it could say anything.
        self.expire_after = expire_after
        self._in_flight: dict[str, RetrainRequest] = {}
        self._coalesced: dict[str, int] = {}

    def offer(self, alert: Alert) -> RetrainRequest | None:
        """A new request if this alert should start a retrain; None if ignored or coalesced."""
        if alert.kind not in self.trigger_kinds:
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
