"""The brand views: the on-demand "why", share of voice in a brand group, voices and languages.
The rows come from the :class:`~streams.store.protocol.Store`.

``why_report`` is the on-demand "why" (``brandpulse why``, the worker's ``/why``): the same
:func:`drift.brand.why.explain` the alerts use, fed from ClickHouse instead of the worker's memory.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from drift.brand.config import WhyConfig
from drift.brand.post import BrandPost
from drift.brand.share_of_voice import share_of_voice
from drift.brand.why import explain
from streams.store.protocol import Store
from streams.views.trends import check_brand, check_until, known_brand, parse_duration, resolve_until, resolve_window

WINDOW_LIMIT = 5_000
BASELINE_LIMIT = 3_000
BRAND_ALERT_KINDS = ("brand_volume_spike", "brand_negative_spike", "brand_positive_surge", "brand_spike_escalated", "brand_spike_resolved")


def window_posts(store: Store, brand: str, start: dt.datetime, end: dt.datetime) -> list[BrandPost]:
    """The newest posts of the window (all of them up to ``WINDOW_LIMIT``)."""
    return store.brand_posts(brand, start, end, "newest", WINDOW_LIMIT)


def baseline_sample(store: Store, brand: str, start: dt.datetime, end: dt.datetime) -> list[BrandPost]:
    """A fixed pseudo-random sample (by post id hash), so the same question gives the same answer."""
    return store.brand_posts(brand, start, end, "sample", BASELINE_LIMIT)


def brand_alerts(store: Store, brand: str, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    return [
        {"alert_id": a.alert_id, "kind": a.kind, "detector": a.detector, "statistic": a.statistic,
         "threshold": a.threshold, "window": a.window, "message": a.message, "detected_at": a.detected_at.isoformat(),
         "since": a.since.isoformat() if a.since else None}
        for a in store.brand_alerts(brand, BRAND_ALERT_KINDS, start, end)
    ]


def why_report(
    store: Store, *, brand: str, since: str = "1h", until: str = "now", baseline: str = "12h",
    focus: str | None = None, config: WhyConfig | None = None,
) -> dict[str, Any]:
    """What the brand's posts of the last ``since`` talk about that the ``baseline`` before did not."""
    if focus not in (None, "negative", "neutral", "positive"):
        raise ValueError(f"bad focus {focus!r}: use negative, neutral or positive")
    brand = known_brand(store, check_brand(brand))
    end = resolve_until(store, check_until(until), brand)
    start = end - parse_duration(since)
    base_start = start - parse_duration(baseline)
    window = window_posts(store, brand, start, end)
    base = baseline_sample(store, brand, base_start, start)
    why = explain(brand, window, base, start=start, end=end, focus=focus, config=config)
    return {**why.model_dump(mode="json"), "baseline_start": base_start.isoformat(),
            "alerts": brand_alerts(store, brand, base_start, end)}


def share_report(
    store: Store, groups: dict[str, list[str]], *, group: str, since: str = "1d", bucket: str = "1h", until: str = "now",
) -> dict[str, Any]:
    """Each brand's share of its group's mentions and negative mentions per bucket (from ``brand_minute``)."""
    if group not in groups:
        raise ValueError(f"unknown brand group {group!r}; groups in the brand rules: {', '.join(sorted(groups)) or 'none'}")
    brands = groups[group]
    _, width, start, end = resolve_window(store, brand=None, since=since, bucket=bucket, until=until)
    rows = store.group_shares(brands, width, start, end)
    buckets = share_of_voice(((r.bucket.isoformat(), r.brand, r.posts, r.negative) for r in rows), brands)
    return {"group": group, "brands": brands, "start": start.isoformat(), "end": end.isoformat(), "bucket": bucket,
            "buckets": [b.model_dump() for b in buckets]}


def voices_report(
    store: Store, *, brand: str, since: str = "1d", bucket: str = "1h", until: str = "now",
) -> dict[str, Any]:
    """Raw mentions next to distinct texts (reposts and copy-paste count once), distinct authors and
    the language mix (``lang`` as the producer sent it or the pipeline identified it; none = '?')."""
    brand, width, start, end = resolve_window(store, brand=brand, since=since, bucket=bucket, until=until)
    mix: dict[dt.datetime, dict[str, int]] = {}
    for lang in store.languages(brand, width, start, end):
        mix.setdefault(lang.bucket, {})[lang.lang] = lang.posts
    out = [{"bucket": r.bucket.isoformat(), "posts": r.posts, "distinct_texts": r.distinct_texts, "authors": r.authors,
            "negative": r.negative, "languages": mix.get(r.bucket, {})} for r in store.voices(brand, width, start, end)]
    return {"brand": brand, "start": start.isoformat(), "end": end.isoformat(), "bucket": bucket, "buckets": out}
