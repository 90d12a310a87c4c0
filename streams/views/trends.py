"""Per-brand sentiment trends from the per-minute aggregate."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, NamedTuple

from streams.store.protocol import Store, TrendRow

_DURATION = re.compile(r"^\s*(\d{1,12})\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_WINDOW = dt.timedelta(days=366)
MAX_BUCKETS = 5_000  # per query: a year of 2-hour buckets, a week of minutes
MAX_BRAND_CHARS = 128


def parse_duration(text: str) -> dt.timedelta:
    """'90s', '15m', '6h', '2d', '1w' → timedelta; at most :data:`MAX_WINDOW`."""
    m = _DURATION.match(text.lower()) if len(text) <= 32 else None
    if not m:
        raise ValueError(f"bad duration {text[:32]!r}: use a number and a unit s/m/h/d/w, e.g. 15m or 6h")
    seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if seconds > MAX_WINDOW.total_seconds():
        raise ValueError(f"duration {text.strip()} is longer than {MAX_WINDOW.days} days; use e.g. 30d")
    return dt.timedelta(seconds=seconds)


def check_bucket(bucket: str) -> dt.timedelta:
    width = parse_duration(bucket)
    if width < dt.timedelta(minutes=1) or width.total_seconds() % 60:
        raise ValueError("bucket must be a whole number of minutes (the aggregate is per minute), e.g. 1m, 15m or 1h")
    return width


def check_until(until: str) -> str:
    until = until.strip()
    if until in ("now", "latest"):
        return until
    try:
        parsed = dt.datetime.fromisoformat(until) if len(until) <= 40 else None
    except ValueError:
        parsed = None
    if parsed is None or not 2000 <= parsed.year <= 2999:
        raise ValueError(f"bad until {until[:40]!r}: use now, latest or an ISO time like 2015-02-24T12:00 (years 2000-2999)")
    return until


def check_brand(brand: str | None) -> str | None:
    brand = (brand or "").strip()
    if len(brand) > MAX_BRAND_CHARS:
        raise ValueError(f"brand is {len(brand)} characters long; brand names have at most {MAX_BRAND_CHARS}")
    return brand or None


def known_brand(store: Store, brand: str | None) -> str | None:
    """The stored spelling of ``brand`` (matched case-insensitively); ValueError naming the known ones."""
    if brand is None:
        return None
    known = store.brands()
    for name in known:
        if name.casefold() == brand.casefold():
            return name
    listed = ", ".join(known) if known else "none yet (no posts stored)"
    raise ValueError(f"no posts for brand {brand!r}; known brands: {listed}")


def resolve_until(store: Store, until: str, brand: str | None) -> dt.datetime:
    """'now', 'latest' (newest data for the brand: handy for replays of old posts) or an ISO time."""
    if until == "now":
        return dt.datetime.now(dt.timezone.utc)
    if until == "latest":
        latest = store.newest_minute(brand)
        if latest is None:
            return dt.datetime.now(dt.timezone.utc)
        return latest + dt.timedelta(minutes=1)
    try:
        parsed = dt.datetime.fromisoformat(until)
    except ValueError:
        raise ValueError(f"bad until {until[:40]!r}: use now, latest or an ISO time like 2015-02-24T12:00") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


class Window(NamedTuple):
    brand: str | None  # the stored spelling
    width: dt.timedelta
    start: dt.datetime
    end: dt.datetime


def resolve_window(store: Store, *, brand: str | None, since: str, bucket: str, until: str) -> Window:
    """Every bucketed view's parameters, checked alike; ValueError says what to fix."""
    width = check_bucket(bucket)
    window = parse_duration(since)
    if window / width > MAX_BUCKETS:
        raise ValueError(f"{since} in buckets of {bucket} is more than {MAX_BUCKETS} buckets; use a wider bucket")
    brand = known_brand(store, check_brand(brand))
    end = resolve_until(store, check_until(until), brand)
    return Window(brand, width, end - window, end)


def expected_shares(row: TrendRow) -> dict[str, float]:
    """Each label's share as the mean calibrated probability: what trends and the dashboard show.

    The per-post label flags negative at a threshold tuned for recall (the alerting rule), so the
    share of posts labelled negative over-states negative by design. The mean of the bias-corrected
    calibrated probabilities estimates the share without that bias (docs/benchmarks.md, "Which
    share trends show", has the measurement). Without the means (NaN) the label counts' shares stand in.
    """
    if not row.posts:
        return {"negative": 0.0, "neutral": 0.0, "positive": 0.0}
    expected = {"negative": row.expected_negative, "neutral": row.expected_neutral, "positive": row.expected_positive}
    if any(math.isnan(v) for v in expected.values()):
        return {"negative": row.negative / row.posts, "neutral": row.neutral / row.posts, "positive": row.positive / row.posts}
    return expected


def _bucket(r: TrendRow) -> dict[str, Any]:
    shares = expected_shares(r)
    return {
        "bucket": r.bucket.isoformat(),
        "posts": r.posts,
        "negative": r.negative,
        "neutral": r.neutral,
        "positive": r.positive,
        "negative_share": shares["negative"],
        "flagged_negative_share": (r.negative / r.posts) if r.posts else 0.0,
        "expected_share": shares,
        "mean_confidence": r.mean_confidence,
    }


def query_trends(
    store: Store, *, brand: str | None, since: str = "6h", bucket: str = "15m", until: str = "now"
) -> dict[str, Any]:
    """Buckets of ``bucket`` over the window ``since`` before ``until``; ValueError for bad parameters."""
    w = resolve_window(store, brand=brand, since=since, bucket=bucket, until=until)
    brand, width, start, end = w.brand, w.width, w.start, w.end
    buckets = [_bucket(r) for r in store.trend(brand, width, start, end)]
    return {
        "brand": brand or "*",
        "start": start.isoformat(),
        "end": end.isoformat(),
        "bucket": bucket,
        "buckets": buckets,
    }

