"""The SQL of brand alerts, in one place: posts of a window, a baseline sample, brand alerts, group
counts, distinct voices per bucket.

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
from streams.clickhouse import ClickHouseStore
from streams.trends import check_brand, check_until, known_brand, parse_duration, resolve_until, resolve_window

WINDOW_LIMIT = 5_000
BASELINE_LIMIT = 3_000
BRAND_ALERT_KINDS = ("brand_volume_spike", "brand_negative_spike", "brand_positive_surge", "brand_spike_escalated", "brand_spike_resolved")


def _utc(ts: dt.datetime) -> dt.datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)


def _posts(store: ClickHouseStore, brand: str, start: dt.datetime, end: dt.datetime, order: str, limit: int) -> list[BrandPost]:
    rows = store.query(
        f"""SELECT post_id, brand, text, created_at, label, confidence, author FROM {store.db}.posts
            WHERE brand = {{brand:String}}
              AND created_at >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC')
              AND created_at < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC')
            ORDER BY {order} LIMIT {{limit:UInt32}}""",
        {"brand": brand, "start": int(start.timestamp() * 1000), "end": int(end.timestamp() * 1000), "limit": limit},
    )
    return [BrandPost(post_id=r["post_id"], brand=r["brand"], text=r["text"], created_at=_utc(r["created_at"]),
                      label=r["label"], confidence=float(r["confidence"]), author=r["author"]) for r in rows]


def window_posts(store: ClickHouseStore, brand: str, start: dt.datetime, end: dt.datetime) -> list[BrandPost]:
    """The newest posts of the window (all of them up to ``WINDOW_LIMIT``)."""
    return _posts(store, brand, start, end, "created_at DESC", WINDOW_LIMIT)


def baseline_sample(store: ClickHouseStore, brand: str, start: dt.datetime, end: dt.datetime) -> list[BrandPost]:
    """A fixed pseudo-random sample (by post id hash), so the same question gives the same answer."""
    return _posts(store, brand, start, end, "cityHash64(post_id)", BASELINE_LIMIT)


def brand_alerts(store: ClickHouseStore, brand: str, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    rows = store.query(
        f"""SELECT alert_id, kind, detector, statistic, threshold, window, message, detected_at, since
            FROM {store.db}.alerts FINAL
            WHERE brand = {{brand:String}} AND kind IN {{kinds:Array(String)}}
              AND detected_at >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC')
              AND detected_at < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC')
            ORDER BY detected_at""",
        {"brand": brand, "kinds": list(BRAND_ALERT_KINDS), "start": int(start.timestamp() * 1000), "end": int(end.timestamp() * 1000)},
    )
    return [{**r, "detected_at": _utc(r["detected_at"]).isoformat(), "since": _utc(r["since"]).isoformat() if r["since"] else None}
            for r in rows]


def why_report(
    store: ClickHouseStore, *, brand: str, since: str = "1h", until: str = "now", baseline: str = "12h",
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
    store: ClickHouseStore, groups: dict[str, list[str]], *, group: str, since: str = "1d", bucket: str = "1h", until: str = "now",
) -> dict[str, Any]:
    """Each brand's share of its group's mentions and negative mentions per bucket (from ``brand_minute``)."""
    if group not in groups:
        raise ValueError(f"unknown brand group {group!r}; groups in the brand rules: {', '.join(sorted(groups)) or 'none'}")
    brands = groups[group]
    _, width, start, end = resolve_window(store, brand=None, since=since, bucket=bucket, until=until)
    rows = store.query(
        f"""SELECT toStartOfInterval(minute, toIntervalSecond({{width:UInt32}})) AS bucket, brand,
                   uniqExactMerge(posts) AS posts, uniqExactIfMerge(negative) AS negative
            FROM {store.db}.brand_minute
            WHERE brand IN {{brands:Array(String)}}
              AND minute >= toDateTime({{start:UInt32}}, 'UTC') AND minute < toDateTime({{end:UInt32}}, 'UTC')
            GROUP BY bucket, brand ORDER BY bucket, brand""",
        {"width": int(width.total_seconds()), "brands": brands, "start": int(start.timestamp()), "end": int(end.timestamp())},
    )
    buckets = share_of_voice(
        ((_utc(r["bucket"]).isoformat(), r["brand"], r["posts"], r["negative"]) for r in rows), brands)
    return {"group": group, "brands": brands, "start": start.isoformat(), "end": end.isoformat(), "bucket": bucket,
            "buckets": [b.model_dump() for b in buckets]}


# The SQL twin of drift.brand.voices.normalise: leading "RT @user:", links, case, non-word runs.
_NORMALISED_TEXT = (
    "trimBoth(replaceRegexpAll(lowerUTF8(replaceRegexpAll(replaceRegexpOne(text, '^\\s*(?i:rt)\\s+@\\w+:?\\s*', ''), "
    "'(?i)https?://\\S+|www\\.\\S+', ' ')), '[^\\p{L}\\p{N}]+', ' '))"
)


def voices_report(
    store: ClickHouseStore, *, brand: str, since: str = "1d", bucket: str = "1h", until: str = "now",
) -> dict[str, Any]:
    """Raw mentions next to distinct texts (reposts and copy-paste count once), distinct authors and
    the language mix (``lang`` as the producer sent it or the pipeline identified it; none = '?')."""
    brand, width, start, end = resolve_window(store, brand=brand, since=since, bucket=bucket, until=until)
    rows = store.query(
        f"""SELECT toStartOfInterval(created_at, toIntervalSecond({{width:UInt32}})) AS bucket,
                   count() AS posts, uniqExact(cityHash64({_NORMALISED_TEXT})) AS distinct_texts,
                   uniqExactIf(author, author IS NOT NULL) AS authors, countIf(label = 'negative') AS negative
            FROM {store.db}.posts
            WHERE brand = {{brand:String}}
              AND created_at >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC')
              AND created_at < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC')
            GROUP BY bucket ORDER BY bucket""",
        {"width": int(width.total_seconds()), "brand": brand, "start": int(start.timestamp() * 1000), "end": int(end.timestamp() * 1000)},
    )
    langs = store.query(
        f"""SELECT toStartOfInterval(created_at, toIntervalSecond({{width:UInt32}})) AS bucket, ifNull(lang, '?') AS lang, count() AS n
            FROM {store.db}.posts
            WHERE brand = {{brand:String}}
              AND created_at >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC')
              AND created_at < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC')
            GROUP BY bucket, lang ORDER BY bucket, n DESC""",
        {"width": int(width.total_seconds()), "brand": brand, "start": int(start.timestamp() * 1000), "end": int(end.timestamp() * 1000)},
    )
    mix: dict[str, dict[str, int]] = {}
    for r in langs:
        mix.setdefault(_utc(r["bucket"]).isoformat(), {})[r["lang"]] = int(r["n"])
    out = []
    for r in rows:
        key = _utc(r["bucket"]).isoformat()
        out.append({"bucket": key, "posts": int(r["posts"]), "distinct_texts": int(r["distinct_texts"]),
                    "authors": int(r["authors"]), "negative": int(r["negative"]), "languages": mix.get(key, {})})
    return {"brand": brand, "start": start.isoformat(), "end": end.isoformat(), "bucket": bucket, "buckets": out}
