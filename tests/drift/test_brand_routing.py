"""The alert-rules file: each brand alert reaches the right local Slack receiver, now or in a digest."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging

import pytest

from drift.brand.monitor import BrandEvent, BrandMonitor
from drift.brand.routing import Route, Router, RoutingRules
from benchmarks.scenarios import inject_crisis, load_airline
from streams.slack.routing import BrandAlertSender, load_rules
from streams.worker.brand_watch import to_alert
from tests.drift.helpers import AIRLINE_CSV
from tests.test_slack import Receiver

UTC = dt.timezone.utc
CRISIS = dt.datetime(2015, 2, 20, 14, 0, tzinfo=UTC)
GROUPS = {"US airlines": ["United", "Delta", "Southwest"]}


@pytest.fixture(scope="module")
def crisis_events() -> list[BrandEvent]:
    if not AIRLINE_CSV.exists():
        pytest.skip(f"shared test data not found at {AIRLINE_CSV}")
    stream, _ = inject_crisis(load_airline(AIRLINE_CSV), "United", "Lost Luggage", CRISIS, n=250, minutes=10)
    stream = [p for p in stream if p.created_at < CRISIS + dt.timedelta(hours=3)]
    mon = BrandMonitor()
    events = [e for i in range(0, len(stream), 50) for e in mon.observe(stream[i:i + 50]) if e.brand == "United"]
    assert [e.phase for e in events if e.at >= CRISIS] == ["start", "escalate", "resolve"]
    return [e for e in events if e.at >= CRISIS]


def rules(team: str, digest: str, **team_extra: object) -> RoutingRules:
    return RoutingRules(routes=[
        Route(name="united-team", brands=["United"], kinds=["brand_volume_spike", "brand_negative_spike", "brand_spike_resolved"],
              webhooks=[team], **team_extra),
        Route(name="airlines-digest", groups=["US airlines"], webhooks=[digest], delivery="digest", digest="hourly"),
    ])


def test_router_decides_by_brand_group_kind_threshold_and_quiet_hours(crisis_events: list[BrandEvent]) -> None:
    start, escalate, resolve = crisis_events
    noon = dt.datetime(2026, 3, 2, 12, tzinfo=UTC)
    router = Router(rules("https://a.invalid/x", "https://b.invalid/y"), GROUPS)
    assert [(d.route, d.mode) for d in router.route(start, noon)] == [("united-team", "now"), ("airlines-digest", "digest")]
    assert [(d.route, d.mode) for d in router.route(escalate, noon)] == [("airlines-digest", "digest")]  # kind not routed to the team
    assert [d.route for d in router.route(resolve, noon)] == ["united-team", "airlines-digest"]
    strict = Router(rules("https://a.invalid/x", "https://b.invalid/y", min_ratio=1000), GROUPS)
    assert [d.route for d in strict.route(start, noon)] == ["airlines-digest"]
    quiet = Router(rules("https://a.invalid/x", "https://b.invalid/y", quiet_hours=(22, 7), tz="America/Chicago"), GROUPS)
    night = dt.datetime(2026, 3, 2, 6, tzinfo=UTC)  # 00:00 in Chicago
    assert [(d.route, d.mode) for d in quiet.route(start, night)][0] == ("united-team", "digest")
    other = start.model_copy(update={"brand": "JetBlue"})
    assert router.route(other, noon) == []


def test_rules_file_errors_never_show_a_webhook(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "routes.json"
    bad.write_text(json.dumps({"routes": [{"name": "x", "webhooks": ["https://hooks.slack.com/services/T/B/SECRET"], "kinds": ["nope"]}]}))
    with pytest.raises(ValueError) as exc:
        load_rules(bad)
    assert "unknown alert kinds" in str(exc.value) and "SECRET" not in str(exc.value)


def test_each_alert_reaches_the_right_receiver(crisis_events: list[BrandEvent], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with Receiver() as team, Receiver() as digest:
        async def scenario() -> None:
            sender = BrandAlertSender(default=None, rules=rules(team.url, digest.url), groups=GROUPS)  # type: ignore[arg-type]
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
    assert team_titles == ["📈 United: mention spike", "✅ United: mention spike resolved"] or \
        team_titles == ["🔻 United: negative spike", "✅ United: negative spike resolved"], team_titles
    assert len(digest.delivered) == 1
    body = json.dumps(digest.delivered[0])
    assert "digest: 3 brand alerts" in body and "still growing" in body
    assert team.url not in caplog.text and digest.url not in caplog.text
