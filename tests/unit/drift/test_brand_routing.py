"""The alert-rules file: which route each brand alert takes, now or in a digest, and what a bad file says."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from drift.brand.monitor import BrandEvent
from drift.brand.routing import Router
from streams.slack.routing import load_rules
from tests.support.drift import united_crisis_events
from tests.support.slack import AIRLINE_GROUPS, routing_rules

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def crisis_events() -> tuple[BrandEvent, ...]:
    return united_crisis_events()  # start, escalate, resolve


def test_router_decides_by_brand_group_kind_threshold_and_quiet_hours(crisis_events: tuple[BrandEvent, ...]) -> None:
    start, escalate, resolve = crisis_events
    noon = dt.datetime(2026, 3, 2, 12, tzinfo=UTC)
    router = Router(routing_rules("https://a.invalid/x", "https://b.invalid/y"), AIRLINE_GROUPS)
    assert [(d.route, d.mode) for d in router.route(start, noon)] == [("united-team", "now"), ("airlines-digest", "digest")]
    assert [(d.route, d.mode) for d in router.route(escalate, noon)] == [("airlines-digest", "digest")]  # kind not routed to the team
    assert [d.route for d in router.route(resolve, noon)] == ["united-team", "airlines-digest"]
    strict = Router(routing_rules("https://a.invalid/x", "https://b.invalid/y", min_ratio=1000), AIRLINE_GROUPS)
    assert [d.route for d in strict.route(start, noon)] == ["airlines-digest"]
    quiet = Router(routing_rules("https://a.invalid/x", "https://b.invalid/y", quiet_hours=(22, 7), tz="America/Chicago"), AIRLINE_GROUPS)
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
