"""Sends brand alerts where the alert-rules file says (:mod:`drift.brand.routing` decides).

Without a rules file every brand alert goes to the worker's default Slack webhook, like model
alerts. With one, each route's webhooks get their own :class:`~streams.slack.notifier.SlackNotifier` (queued,
retrying, never blocking the stream, URLs never logged), immediate alerts go out at once and the
rest wait for their route's digest, checked every ``tick``.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from drift.brand.monitor import BrandEvent
from drift.brand.routing import Digests, Router, RoutingRules
from streams.core.schemas import Alert
from streams.slack.messages import brand_message, digest_messages
from streams.slack.notifier import SlackNotifier

log = logging.getLogger(__name__)


def load_rules(path: Path | None) -> RoutingRules | None:
    if path is None:
        return None
    try:
        return RoutingRules.model_validate_json(Path(path).read_text())
    except (OSError, ValueError) as exc:
        # pydantic's message would quote the offending input, which may be a webhook URL.
        detail = exc.errors(include_input=False) if hasattr(exc, "errors") else exc  # type: ignore[union-attr]
        raise ValueError(f"cannot read alert routes from {path}: {detail}") from None


class BrandAlertSender:
    def __init__(self, default: SlackNotifier, rules: RoutingRules | None, groups: dict[str, list[str]]) -> None:
        self.default = default
        self.router = Router(rules, groups) if rules is not None else None
        self.digests = Digests()
        self._notifiers: dict[tuple[str, int], SlackNotifier] = {}
        self.sent_now = 0
        self.digests_sent = 0

    def _notifier(self, route: str, webhook: int) -> SlackNotifier:
        key = (route, webhook)
        if key not in self._notifiers:
            assert self.router is not None
            self._notifiers[key] = SlackNotifier(self.router.routes[route].webhooks[webhook])
        return self._notifiers[key]

    def send(self, event: BrandEvent, alert: Alert, now: dt.datetime) -> None:
        if self.router is None:
            self.default.notify(brand_message(event))
            self.sent_now += 1
            return
        deliveries = self.router.route(event, now)
        if not deliveries:
            log.info("brand alert %s matches no route; stored and published only", alert.alert_id)
        for d in deliveries:
            if d.mode == "now":
                self._notifier(d.route, d.webhook).notify(brand_message(event))
                self.sent_now += 1
            else:
                self.digests.add(d, event)

    def tick(self, now: dt.datetime) -> None:
        """Send the digests that are due (a long one as several messages, none of its alerts left out)."""
        if self.router is None:
            return
        for route, webhook, events in self.digests.due(self.router, now):
            for message in digest_messages(route, events):
                self._notifier(route, webhook).notify(message)
            self.digests_sent += 1

    async def aclose(self) -> None:
        for notifier in self._notifiers.values():
            await notifier.aclose()
