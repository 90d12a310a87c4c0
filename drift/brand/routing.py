"""Who hears about which brand alert, and when: the alert-rules file.

A JSON file (``BRANDPULSE_ALERT_ROUTES``) lists routes::

    {"routes": [
      {"name": "united-crisis", "brands": ["United"], "kinds": ["brand_negative_spike", "brand_volume_spike"],
       "webhooks": ["https://hooks.slack.com/services/…"], "min_ratio": 3, "quiet_hours": [22, 7], "tz": "America/Chicago"},
      {"name": "airlines-digest", "groups": ["US airlines"], "webhooks": ["https://hooks.slack.com/services/…"],
       "delivery": "digest", "digest": "daily", "digest_hour": 9}
    ]}

An event goes to every route that matches its brand (by name or brand group) and kind and passes
the route's thresholds (``min_ratio``: observed / expected of the signal that fired; ``min_voices``).
``delivery: immediate`` sends it at once — except in the route's quiet hours, when it waits for the
next digest; ``delivery: digest`` only ever sends digests (``hourly`` on the hour, ``daily`` at
``digest_hour``, local time of ``tz``; never during quiet hours). Webhook URLs are secrets: they are
``SecretStr`` and never appear in a log or an error.

Pure logic: :class:`Router` decides, :class:`Digests` holds what waits; ``streams`` does the sending.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, SecretStr, field_validator

from drift.brand.monitor import BrandEvent

ALL_KINDS = ("brand_volume_spike", "brand_negative_spike", "brand_positive_surge", "brand_spike_escalated", "brand_spike_resolved")


class Route(BaseModel):
    name: str = Field(min_length=1)
    brands: list[str] = Field(default_factory=list, description="brands by name; empty with no groups = every brand")
    groups: list[str] = Field(default_factory=list, description="brand groups of the brand rules")
    kinds: list[str] = Field(default_factory=lambda: list(ALL_KINDS))
    webhooks: list[SecretStr] = Field(min_length=1)
    min_ratio: float | None = Field(default=None, ge=0, description="observed / expected the firing signal needs")
    min_voices: int | None = Field(default=None, ge=0, description="observed count the firing signal needs")
    delivery: Literal["immediate", "digest"] = "immediate"
    quiet_hours: tuple[int, int] | None = Field(default=None, description="[from, to) local hours: immediate alerts wait for the digest")
    digest: Literal["hourly", "daily"] = "hourly"
    digest_hour: int = Field(default=9, ge=0, le=23)
    tz: str = "UTC"

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - set(ALL_KINDS))
        if unknown:
            raise ValueError(f"unknown alert kinds {unknown}; use {list(ALL_KINDS)}")
        return v

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        ZoneInfo(v)
        return v

    def matches(self, event: BrandEvent, brand_groups: set[str]) -> bool:
        if event.alert_kind not in self.kinds:
            return False
        if (self.brands or self.groups) and event.brand not in self.brands and not brand_groups & set(self.groups):
            return False
        if event.phase == "resolve":  # thresholds are for how big a spike is; its end always follows it
            return True
        lead = min(event.signals, key=lambda s: s.p_value)
        if self.min_ratio is not None and lead.ratio < self.min_ratio:
            return False
        return self.min_voices is None or lead.observed >= self.min_voices

    def quiet(self, now: dt.datetime) -> bool:
        if self.quiet_hours is None:
            return False
        start, end = self.quiet_hours
        hour = now.astimezone(ZoneInfo(self.tz)).hour
        return start <= hour < end if start <= end else hour >= start or hour < end

    def digest_slot(self, now: dt.datetime) -> dt.datetime:
        """The start (UTC) of the digest period ``now`` is in: a digest is due when the slot changes."""
        local = now.astimezone(ZoneInfo(self.tz)).replace(minute=0, second=0, microsecond=0)
        if self.digest == "daily":
            local -= dt.timedelta(hours=(local.hour - self.digest_hour) % 24)
        return local.astimezone(dt.timezone.utc)


class RoutingRules(BaseModel):
    routes: list[Route] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Delivery:
    route: str
    webhook: int  # index into the route's webhooks
    mode: Literal["now", "digest"]


class Router:
    def __init__(self, rules: RoutingRules, groups: Mapping[str, list[str]]) -> None:
        self.rules = rules
        self.routes = {r.name: r for r in rules.routes}
        self._groups_of: dict[str, set[str]] = {}
        for group, brands in groups.items():
            for b in brands:
                self._groups_of.setdefault(b, set()).add(group)

    def route(self, event: BrandEvent, now: dt.datetime) -> list[Delivery]:
        out: list[Delivery] = []
        for r in self.rules.routes:
            if not r.matches(event, self._groups_of.get(event.brand, set())):
                continue
            mode: Literal["now", "digest"] = "digest" if r.delivery == "digest" or r.quiet(now) else "now"
            out += [Delivery(r.name, i, mode) for i in range(len(r.webhooks))]
        return out


@dataclass
class Digests:
    """Events waiting per (route, webhook) for their digest."""

    waiting: dict[tuple[str, int], list[BrandEvent]] = field(default_factory=dict)
    slots: dict[str, dt.datetime] = field(default_factory=dict)

    def add(self, delivery: Delivery, event: BrandEvent) -> None:
        self.waiting.setdefault((delivery.route, delivery.webhook), []).append(event)

    def due(self, router: Router, now: dt.datetime) -> list[tuple[str, int, list[BrandEvent]]]:
        """Digests to send now: the route's digest period changed and it is not in quiet hours."""
        out: list[tuple[str, int, list[BrandEvent]]] = []
        for name, route in router.routes.items():
            slot = route.digest_slot(now)
            previous = self.slots.setdefault(name, slot)
            if slot == previous or route.quiet(now):
                continue
            self.slots[name] = slot
            for i in range(len(route.webhooks)):
                events = self.waiting.pop((name, i), [])
                if events:
                    out.append((name, i, events))
        return out
