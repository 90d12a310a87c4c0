"""The alert-rules file at work: each brand alert reaches the right local Slack receiver, now or in a digest."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging

import pytest

from drift.brand.monitor import BrandEvent
from streams.slack.routing import BrandAlertSender
from streams.worker.brand_watch import to_alert
from tests.support.drift import united_crisis_events
from tests.support.slack import AIRLINE_GROUPS, Receiver, routing_rules

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def crisis_events() -> tuple[BrandEvent, ...]:
    return united_crisis_events()  # start, escalate, resolve


def test_each_alert_reaches_the_right_receiver(crisis_events: tuple[BrandEvent, ...], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with Receiver() as team, Receiver() as digest:
        async def scenario() -> None:
            sender = BrandAlertSender(default=None, rules=routing_rules(team.url, digest.url), groups=AIRLINE_GROUPS)  # type: ignore[arg-type]
            t0 = dt.datetime(2026, 3, 2, 12, 5, tzinfo=UTC)
            sender.tick(t0)  # the digest clock starts
            for i, event in enumerate(crisis_events):
                sender.send(event, to_alert(event, "m/1"), t0 + dt.timedelta(minutes=i))
            sender.tick(t0 + dt.timedelta(minutes=30))  # same hour: nothing due
            assert sender.digests_sent == 0
            sender.tick(t0 + dt.timedelta(minutes=56))  # 13:01: the hourly digest is due
            assert sender.digests_sent == 1
            await sender.aclose()

        asyncio.run(scenario())
    team_titles = [m["blocks"][0]["text"]["text"] for m in team.delivered]
    # 250 lost-luggage complaints in 10 minutes start as a negative spike; the escalation goes to the digest only.
    assert team_titles == ["🔻 United: negative spike", "✅ United: negative spike resolved"], team_titles
    assert len(digest.delivered) == 1
    body = json.dumps(digest.delivered[0])
    assert "digest: 3 brand alerts" in body and "still growing" in body
    assert team.url not in caplog.text and digest.url not in caplog.text
