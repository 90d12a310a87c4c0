"""The brand sentiment dashboard: data gathering over ClickHouse, and server-side SVG rendering.

Three layers, each usable alone:

- :func:`gather_dashboard` reads everything one page shows from a :class:`ClickHouseStore`
  (trend buckets, alerts, label queue, labelled-sample metrics of the served models);
- :func:`render_dashboard` turns that :class:`DashboardData` into one self-contained HTML page with
  inline SVG charts — pure, no I/O, no JavaScript libraries and no CDN, so it works offline;
- :func:`build_page` / :func:`build_data` glue both to any web server (the worker's Faust web
  pages in :mod:`streams.web`, or the standalone app from :func:`create_dashboard_app`).

With embedded chDB only the worker may open the data directory, so the standalone dashboard
fetches :class:`DashboardData` as JSON from the worker's ``/dashboard/data`` page; against a
ClickHouse server it queries directly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
import logging
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import typer
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field, ValidationError, field_validator

from drift.performance import macro_f1, recall
from streams.clickhouse import ClickHouseStore
from streams.schemas import Alert, utcnow
from streams.settings import Settings
from streams.brands import BrandResolver
from streams.dashboard_brand import PANEL_CSS, BrandPanels, gather_brand_panels, share_section, voices_section
from streams.trends import check_bucket, check_until, parse_duration, query_trends

log = logging.getLogger(__name__)

# Bucket widths the dashboard picks from when none is asked for: at most MAX_BARS bars per chart.
AUTO_BUCKETS = ("1m", "5m", "15m", "30m", "1h", "3h", "6h", "12h", "1d")
MAX_BARS = 96
WINDOWS = ("1h", "6h", "24h", "3d", "7d", "30d")
MAX_ALERTS = 200

COLORS = {"negative": "#d64545", "neutral": "#9aa5b1", "positive": "#3f9c6d"}
SHARE_COLOR = "#5b21b6"
ALERT_COLOR = "#e8590c"


# ------------------------------------------------------------------ data


class DashboardQuery(BaseModel):
    """What the page is asked for (query parameters ``brand``, ``since``, ``bucket``, ``until``, ``refresh``)."""

    brand: str | None = Field(default=None, max_length=128, description="One brand, or all brands together")
    since: str = Field(default="6h", description="Window length, e.g. 90m, 6h, 7d")
    bucket: str | None = Field(default=None, description="Bucket width in whole minutes (default: chosen from since)")
    until: str = Field(default="latest", description="Window end: latest (newest data), now, or an ISO time")
    refresh: int = Field(default=30, ge=0, le=3600, description="Auto-refresh period in seconds; 0 turns it off")

    @field_validator("brand", "bucket", mode="before")
    @classmethod
    def _blank_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("since")
    @classmethod
    def _window(cls, v: str) -> str:
        parse_duration(v)
        return v.strip()

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, v: str | None) -> str | None:
        if v is None:
            return None
        check_bucket(v)
        return v.strip()

    @field_validator("until")
    @classmethod
    def _until(cls, v: str) -> str:
        return check_until(v)

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> DashboardQuery:
        """Parse query parameters; raises ValueError with a message fit for the user."""
        known = {k: v for k, v in params.items() if k in cls.model_fields}
        try:
            return cls.model_validate(known)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors())
            raise ValueError(f"bad dashboard parameters ({problems})") from None

    def resolved_bucket(self) -> str:
        if self.bucket:
            return self.bucket
        window = parse_duration(self.since)
        for b in AUTO_BUCKETS:
            if window / parse_duration(b) <= MAX_BARS:
                return b
        return AUTO_BUCKETS[-1]


class Bucket(BaseModel):
    start: dt.datetime
    posts: int
    negative: int
    neutral: int
    positive: int
    negative_share: float
    mean_confidence: float


class ModelSummary(BaseModel):
    """A served model and how it does on the human-labelled sample."""

    role: str
    version: str
    labelled: int = 0
    accuracy: float | None = None
    macro_f1: float | None = None
    negative_recall: float | None = None


class DashboardData(BaseModel):
    query: DashboardQuery
    brands: list[str]
    start: dt.datetime
    end: dt.datetime
    bucket: str
    buckets: list[Bucket]
    alerts: list[Alert]
    models: list[ModelSummary]
    label_queue: int
    newest: dt.datetime | None
    brand_panels: BrandPanels = Field(default_factory=BrandPanels)
    generated_at: dt.datetime = Field(default_factory=utcnow)
    source: str = "worker"


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.timezone.utc) if t.tzinfo is None else t.astimezone(dt.timezone.utc)


def summarise_labelled(role: str, version: str, pairs: list[tuple[str, str, int]]) -> ModelSummary:
    """Accuracy, macro-F1 and negative recall from ``(predicted, human, count)`` rows of one version."""
    expanded = [(p, h) for p, h, n in pairs for _ in range(n)]
    if not expanded:
        return ModelSummary(role=role, version=version)
    return ModelSummary(
        role=role,
        version=version,
        labelled=len(expanded),
        accuracy=sum(p == h for p, h in expanded) / len(expanded),
        macro_f1=macro_f1(expanded),
        negative_recall=recall(expanded, "negative"),
    )


def _served_versions(store: ClickHouseStore) -> dict[str, str]:
    """Newest version seen per role, for when the serving worker cannot be asked."""
    rows = store.query(
        f"SELECT model_role AS role, argMax(model_version, ingested_at) AS version FROM {store.db}.scored_posts GROUP BY role"
    )
    roles = {"champion": "champion", "shadow": "challenger"}
    return {roles[r["role"]]: r["version"] for r in rows if r["role"] in roles}


def gather_dashboard(
    store: ClickHouseStore,
    query: DashboardQuery,
    served: Mapping[str, str | None] | None = None,
    source: str = "worker",
    groups: dict[str, list[str]] | None = None,
) -> DashboardData:
    """Everything one dashboard page shows. ``served`` maps role (champion/challenger) → version.

    Raises ValueError for a window the trends query rejects; storage errors propagate.
    """
    db = store.db
    bucket = query.resolved_bucket()
    trend = query_trends(store, brand=query.brand, since=query.since, bucket=bucket, until=query.until)
    if query.brand:  # the stored spelling, whatever case was asked for
        query = query.model_copy(update={"brand": trend["brand"]})
    start, end = dt.datetime.fromisoformat(trend["start"]), dt.datetime.fromisoformat(trend["end"])
    brand_params = {"brand": query.brand or ""}
    brands = [r["brand"] for r in store.query(f"SELECT DISTINCT brand FROM {db}.brand_minute ORDER BY brand")]
    newest = store.scalar(
        f"SELECT max(minute) FROM {db}.brand_minute WHERE {{brand:String}} = '' OR brand = {{brand:String}}", brand_params
    )
    # An alert sits on the timeline where its drift began in data time (``since``), which is what
    # matters when an old corpus is replayed; detection time is shown in the table.
    alert_rows = store.query(
        f"""SELECT * FROM {db}.alerts FINAL
            WHERE ({{brand:String}} = '' OR brand IS NULL OR brand = {{brand:String}})
              AND coalesce(since, detected_at) >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC')
              AND coalesce(since, detected_at) < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC')
            ORDER BY coalesce(since, detected_at) LIMIT {MAX_ALERTS}""",
        {**brand_params, "start": int(start.timestamp() * 1000), "end": int(end.timestamp() * 1000)},
    )
    alerts = [Alert.model_validate({**r, "detected_at": _utc(r["detected_at"]), "since": _utc(r["since"]) if r["since"] else None}) for r in alert_rows]
    label_queue = int(
        store.scalar(
            f"""SELECT count() FROM (SELECT post_id FROM {db}.label_queue FINAL
                                    WHERE {{brand:String}} = '' OR brand = {{brand:String}})
                WHERE post_id NOT IN (SELECT post_id FROM {db}.human_labels)""",
            brand_params,
        )
        or 0
    )
    versions = {role: v for role, v in (served or _served_versions(store)).items() if v}
    models: list[ModelSummary] = []
    if versions:
        rows = store.query(
            f"""SELECT s.model_version AS version, s.label AS predicted, h.label AS human, uniqExact(h.post_id) AS n
                FROM (SELECT post_id, label FROM {db}.human_labels FINAL) AS h
                INNER JOIN (SELECT post_id, label, model_version FROM {db}.scored_posts FINAL
                            WHERE model_version IN {{versions:Array(String)}}) AS s ON h.post_id = s.post_id
                GROUP BY version, predicted, human""",
            {"versions": list(versions.values())},
        )
        for role in ("champion", "challenger"):
            if role in versions:
                pairs = [(r["predicted"], r["human"], int(r["n"])) for r in rows if r["version"] == versions[role]]
                models.append(summarise_labelled(role, versions[role], pairs))
    return DashboardData(
        query=query,
        brands=brands,
        start=start,
        end=end,
        bucket=bucket,
        buckets=[Bucket.model_validate({**b, "start": b["bucket"]}) for b in trend["buckets"]],
        alerts=alerts,
        models=models,
        label_queue=label_queue,
        newest=_utc(newest) if newest is not None and newest.year >= 2000 else None,
        brand_panels=gather_brand_panels(store, brand=query.brand, groups=groups or {},
                                         since=query.since, bucket=bucket, until=end.isoformat()),
        source=source,
    )


# ------------------------------------------------------------------ rendering (pure)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def count_ticks(top: float, max_ticks: int = 5) -> list[int]:
    """Integer axis ticks 0, step, 2·step… covering ``top``, step a 1/2/5 × 10^k with at most ``max_ticks`` steps."""
    if top <= 0:
        return [0, 1]
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step * max_ticks >= top:
                n = math.ceil(top / (m * step))
                return [k * m * step for k in range(n + 1)]
        step *= 10


_TICK_STEPS = [parse_duration(s) for s in ("1m", "5m", "10m", "15m", "30m", "1h", "2h", "3h", "6h", "12h", "1d", "2d", "7d", "14d")]


def time_ticks(start: dt.datetime, end: dt.datetime, max_ticks: int = 8) -> list[dt.datetime]:
    span = end - start
    step = next((s for s in _TICK_STEPS if span / s <= max_ticks), _TICK_STEPS[-1])
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    first = epoch + math.ceil((start - epoch) / step) * step
    ticks = []
    t = first
    while t <= end:
        ticks.append(t)
        t += step
    return ticks


def _tick_label(t: dt.datetime, span: dt.timedelta) -> str:
    if span <= dt.timedelta(hours=24):
        return t.strftime("%H:%M")
    if span <= dt.timedelta(days=3):
        return t.strftime("%b %d %H:%M")
    return t.strftime("%b %d")


def _when(t: dt.datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC") if t else "–"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


class _Frame:
    """Maps time and values to pixels inside one chart's plot area."""

    def __init__(self, t0: dt.datetime, t1: dt.datetime, width: int, height: int, margin: tuple[int, int, int, int]) -> None:
        self.t0, self.t1 = t0, t1
        self.width, self.height = width, height
        self.top, self.right, self.bottom, self.left = margin
        self.plot_w = width - self.left - self.right
        self.plot_h = height - self.top - self.bottom

    def x(self, t: dt.datetime) -> float:
        span = (self.t1 - self.t0).total_seconds() or 1.0
        return self.left + (t - self.t0).total_seconds() / span * self.plot_w

    def y(self, fraction: float) -> float:
        return self.top + (1 - fraction) * self.plot_h

    def x_axis(self) -> str:
        span = self.t1 - self.t0
        base = self.top + self.plot_h
        parts = [f'<line class="axis" x1="{self.left}" y1="{base}" x2="{self.left + self.plot_w}" y2="{base}"/>']
        for t in time_ticks(self.t0, self.t1):
            x = self.x(t)
            parts.append(f'<line class="tick" x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 5}"/>')
            parts.append(f'<text class="xlabel" x="{x:.1f}" y="{base + 19}" text-anchor="middle">{_e(_tick_label(t, span))}</text>')
        return "".join(parts)


def _empty_chart(width: int, height: int, message: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{_e(message)}" xmlns="http://www.w3.org/2000/svg">'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f8fafc" rx="6"/>'
        f'<text class="empty" x="{width / 2}" y="{height / 2}" text-anchor="middle">{_e(message)}</text></svg>'
    )


def sentiment_chart(data: DashboardData, width: int = 1160, height: int = 340) -> str:
    """Stacked negative/neutral/positive bars per bucket, negative-share line and alert markers."""
    if not data.buckets:
        return _empty_chart(width, height, "No posts in this window — pick a longer window or until=latest")
    width_s = parse_duration(data.bucket)
    t0 = min(data.start, data.buckets[0].start)
    t1 = max(data.end, data.buckets[-1].start + width_s)
    f = _Frame(t0, t1, width, height, (34, 62, 34, 62))
    ticks = count_ticks(max(b.posts for b in data.buckets))
    ymax = ticks[-1]
    bar_w = max(f.x(t0 + width_s) - f.x(t0), 1.0)
    gap = min(bar_w * 0.15, 4.0)
    out = [
        f'<svg class="chart" id="sentiment-chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="Posts per {_e(data.bucket)} by sentiment, with negative share" xmlns="http://www.w3.org/2000/svg">'
    ]
    for count in ticks:
        y = f.y(count / ymax)
        out.append(f'<line class="grid" x1="{f.left}" y1="{y:.1f}" x2="{f.left + f.plot_w}" y2="{y:.1f}"/>')
        out.append(f'<text class="ylabel" x="{f.left - 8}" y="{y + 4:.1f}" text-anchor="end">{count:,}</text>')
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<text class="ylabel share" x="{f.left + f.plot_w + 8}" y="{f.y(frac) + 4:.1f}">{frac:.0%}</text>')
    out.append(f'<text class="axis-title" x="{f.left - 8}" y="{f.top - 14}" text-anchor="end">posts</text>')
    out.append(f'<text class="axis-title share" x="{width - 4}" y="{f.top - 14}" text-anchor="end">negative</text>')
    for b in data.buckets:
        x = f.x(b.start) + gap / 2
        y_base = f.y(0)
        tip = (
            f"{_when(b.start)}: {b.posts} posts — {b.negative} negative, {b.neutral} neutral, "
            f"{b.positive} positive; negative share {b.negative_share:.1%}; mean confidence {b.mean_confidence:.3f}"
        )
        for label in ("negative", "neutral", "positive"):
            n = getattr(b, label)
            if not n:
                continue
            h = n / ymax * f.plot_h
            y_base -= h
            out.append(
                f'<rect class="bar bar-{label}" x="{x:.1f}" y="{y_base:.1f}" width="{bar_w - gap:.1f}" height="{h:.1f}" '
                f'fill="{COLORS[label]}"><title>{_e(tip)}</title></rect>'
            )
    points = [(f.x(b.start) + bar_w / 2, f.y(b.negative_share), b) for b in data.buckets if b.posts]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y, _) in enumerate(points))
    out.append(f'<path class="share-line" d="{path}" fill="none" stroke="{SHARE_COLOR}" stroke-width="2.2" stroke-linejoin="round"/>')
    if len(points) <= MAX_BARS:
        for x, y, b in points:
            out.append(
                f'<circle class="share-point" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{SHARE_COLOR}">'
                f"<title>{_e(f'{_when(b.start)}: negative share {b.negative_share:.1%} of {b.posts}')}</title></circle>"
            )
    for i, a in enumerate(data.alerts, start=1):
        at = a.since or a.detected_at
        x = min(max(f.x(at), f.left), f.left + f.plot_w)
        tip = f"#{i} {a.kind} ({a.brand or 'all brands'}): {a.message}"
        out.append(
            f'<a href="#alert-{i}" class="alert-marker"><title>{_e(tip)}</title>'
            f'<line x1="{x:.1f}" y1="{f.top - 4}" x2="{x:.1f}" y2="{f.y(0):.1f}" stroke="{ALERT_COLOR}" stroke-width="1.5" stroke-dasharray="4 3"/>'
            f'<circle cx="{x:.1f}" cy="{f.top - 12}" r="9" fill="{ALERT_COLOR}"/>'
            f'<text x="{x:.1f}" y="{f.top - 8}" text-anchor="middle" class="marker-label">{i}</text></a>'
        )
    out.append(f.x_axis())
    out.append("</svg>")
    return "".join(out)


def confidence_chart(data: DashboardData, width: int = 1160, height: int = 150) -> str:
    """Mean model confidence per bucket: a falling line is the first sign of drift."""
    points = [b for b in data.buckets if b.posts]
    if not points:
        return _empty_chart(width, height, "No confidence data in this window")
    width_s = parse_duration(data.bucket)
    t0 = min(data.start, data.buckets[0].start)
    t1 = max(data.end, data.buckets[-1].start + width_s)
    f = _Frame(t0, t1, width, height, (14, 62, 30, 62))
    lo = math.floor(min(b.mean_confidence for b in points) * 10) / 10
    lo = min(lo, 0.9)
    scale = lambda c: (c - lo) / (1 - lo)  # noqa: E731
    half = (f.x(t0 + width_s) - f.x(t0)) / 2
    out = [
        f'<svg class="chart" id="confidence-chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="Mean confidence per {_e(data.bucket)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for frac in (0.0, 0.5, 1.0):
        y = f.y(frac)
        out.append(f'<line class="grid" x1="{f.left}" y1="{y:.1f}" x2="{f.left + f.plot_w}" y2="{y:.1f}"/>')
        out.append(f'<text class="ylabel" x="{f.left - 8}" y="{y + 4:.1f}" text-anchor="end">{lo + frac * (1 - lo):.2f}</text>')
    path = " ".join(
        f"{'M' if i == 0 else 'L'}{f.x(b.start) + half:.1f},{f.y(scale(b.mean_confidence)):.1f}" for i, b in enumerate(points)
    )
    out.append(f'<path class="confidence-line" d="{path}" fill="none" stroke="#1d4ed8" stroke-width="2"/>')
    for i, a in enumerate(data.alerts, start=1):
        if a.kind == "confidence_drift":
            x = min(max(f.x(a.since or a.detected_at), f.left), f.left + f.plot_w)
            out.append(f'<line class="alert-line" x1="{x:.1f}" y1="{f.top}" x2="{x:.1f}" y2="{f.y(0):.1f}" stroke="{ALERT_COLOR}" stroke-dasharray="4 3"/>')
    out.append(f.x_axis())
    out.append("</svg>")
    return "".join(out)


_CSS = """
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2933;background:#f1f4f8}
header{background:#102a43;color:#fff;padding:14px 28px;display:flex;align-items:center;gap:24px;flex-wrap:wrap}
header h1{font-size:20px;margin:0;font-weight:650;letter-spacing:.2px}header h1 span{color:#9fb3c8;font-weight:400}
header form{display:flex;gap:10px;align-items:center;margin-left:auto;flex-wrap:wrap}
header label{font-size:12px;color:#bcccdc}header select,header button{font:inherit;padding:5px 8px;border-radius:6px;border:1px solid #486581;background:#fff;color:#102a43}
header button{background:#2680c2;color:#fff;border-color:#2680c2;cursor:pointer}
main{padding:20px 28px;max-width:1280px;margin:0 auto}
.cards{display:grid;grid-template-columns:repeat(6,1fr);gap:12px;margin-bottom:16px}
.card{background:#fff;border-radius:10px;padding:12px 14px;box-shadow:0 1px 2px rgba(16,42,67,.08)}
.card .k{font-size:12px;color:#627d98;text-transform:uppercase;letter-spacing:.4px}.card .v{font-size:22px;font-weight:650;margin-top:2px;overflow-wrap:anywhere}
.card .s{font-size:12px;color:#829ab1}
section{background:#fff;border-radius:10px;padding:14px 18px;margin-bottom:16px;box-shadow:0 1px 2px rgba(16,42,67,.08)}
section h2{font-size:15px;margin:0 0 8px;font-weight:650}
.legend{display:flex;gap:16px;font-size:12px;color:#486581;margin:0 0 4px}.legend i{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
svg .grid{stroke:#e4e7eb;stroke-width:1}svg .axis{stroke:#9aa5b1}svg .tick{stroke:#9aa5b1}
svg text{font:11px system-ui,"DejaVu Sans",sans-serif;fill:#627d98}svg .share{fill:#5b21b6}svg .axis-title{font-weight:600}
svg .marker-label{fill:#fff;font-weight:700;font-size:10px}svg .empty{font-size:15px;fill:#829ab1}
table{width:100%;border-collapse:collapse;font-size:13px}th{text-align:left;color:#627d98;font-weight:600;border-bottom:1px solid #d9e2ec;padding:6px 8px}
td{border-bottom:1px solid #f0f4f8;padding:6px 8px;vertical-align:top}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr:target{background:#fff4e6}.badge{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;background:#e8590c;color:#fff}
.muted{color:#829ab1}footer{color:#829ab1;font-size:12px;text-align:center;padding:6px 0 20px}
"""


def _options(values: list[tuple[str, str]], selected: str) -> str:
    return "".join(
        f'<option value="{_e(v)}"{" selected" if v == selected else ""}>{_e(label)}</option>' for v, label in values
    )


def _controls(data: DashboardData) -> str:
    q = data.query
    brands = [("", "All brands")] + [(b, b) for b in data.brands]
    if q.brand and q.brand not in data.brands:
        brands.append((q.brand, q.brand))
    windows = [(w, f"last {w}") for w in WINDOWS]
    if q.since not in WINDOWS:
        windows.append((q.since, f"last {q.since}"))
    untils = [("latest", "newest data"), ("now", "now")]
    if q.until not in ("latest", "now"):
        untils.append((q.until, q.until))
    return (
        '<form method="get" action="">'
        f'<label for="brand">Brand</label><select id="brand" name="brand" onchange="this.form.submit()">{_options(brands, q.brand or "")}</select>'
        f'<label for="since">Window</label><select id="since" name="since" onchange="this.form.submit()">{_options(windows, q.since)}</select>'
        f'<label for="until">Ending</label><select id="until" name="until" onchange="this.form.submit()">{_options(untils, q.until)}</select>'
        + (f'<input type="hidden" name="bucket" value="{_e(q.bucket)}">' if q.bucket else "")
        + f'<input type="hidden" name="refresh" value="{q.refresh}"><button type="submit">Show</button></form>'
    )


def _cards(data: DashboardData) -> str:
    posts = sum(b.posts for b in data.buckets)
    neg = sum(b.negative for b in data.buckets)
    conf = sum(b.mean_confidence * b.posts for b in data.buckets) / posts if posts else None
    champion = next((m for m in data.models if m.role == "champion"), None)
    challenger = next((m for m in data.models if m.role == "challenger"), None)
    cards = [
        ("Posts", f"{posts:,}", f"{len(data.buckets)} buckets of {data.bucket}"),
        ("Negative share", _pct(neg / posts if posts else None), f"{neg:,} negative posts"),
        ("Mean confidence", "–" if conf is None else f"{conf:.3f}", "champion model"),
        ("Alerts", f"{len(data.alerts)}", "in this window"),
        ("Label queue", f"{data.label_queue:,}", "posts awaiting a human label"),
        ("Champion", champion.version if champion else "–", f"shadow: {challenger.version}" if challenger else "no challenger"),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card" id="card-{_e(k.lower().replace(" ", "-"))}"><div class="k">{_e(k)}</div><div class="v">{_e(v)}</div><div class="s">{_e(s)}</div></div>'
        for k, v, s in cards
    ) + "</div>"


def _alerts_table(data: DashboardData) -> str:
    if not data.alerts:
        return '<p class="muted">No alerts in this window.</p>'
    rows = []
    for i, a in enumerate(data.alerts, start=1):
        rows.append(
            f'<tr id="alert-{i}"><td><span class="badge">{i}</span></td><td>{_e(_when(a.since))}</td><td>{_e(_when(a.detected_at))}</td>'
            f"<td>{_e(a.kind)}</td><td>{_e(a.brand or 'all brands')}</td><td>{_e(a.detector)}</td>"
            f'<td class="num">{a.statistic:.3f}</td><td class="num">{a.threshold:.3f}</td><td>{_e(a.model_version)}</td><td>{_e(a.message)}</td></tr>'
        )
    head = "".join(
        f'<th{" class=num" if h in ("statistic", "threshold") else ""}>{h}</th>'
        for h in ("#", "drift since", "detected", "kind", "brand", "detector", "statistic", "threshold", "model", "details")
    )
    return f'<table id="alerts"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _models_table(data: DashboardData) -> str:
    if not data.models:
        return '<p class="muted">No model is serving yet.</p>'
    head = "".join(
        f'<th{" class=num" if i > 1 else ""}>{h}</th>'
        for i, h in enumerate(("role", "version", "human-labelled posts", "accuracy", "macro-F1", "negative recall"))
    )
    rows = "".join(
        f'<tr class="model-{_e(m.role)}"><td>{_e(m.role)}</td><td>{_e(m.version)}</td><td class="num">{m.labelled:,}</td>'
        f'<td class="num">{_pct(m.accuracy)}</td><td class="num">{"–" if m.macro_f1 is None else f"{m.macro_f1:.3f}"}</td>'
        f'<td class="num">{_pct(m.negative_recall)}</td></tr>'
        for m in data.models
    )
    return f'<table id="models"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def render_dashboard(data: DashboardData) -> str:
    """The whole page as one HTML document (inline CSS and SVG; nothing fetched from elsewhere)."""
    q = data.query
    title = f"{q.brand or 'All brands'} — brandpulse"
    refresh = f'<meta http-equiv="refresh" content="{q.refresh}">' if q.refresh else ""
    legend = "".join(f'<span><i style="background:{c}"></i>{k}</span>' for k, c in COLORS.items())
    legend += f'<span><i style="background:{SHARE_COLOR};height:3px;vertical-align:3px"></i>negative share (right axis)</span>'
    legend += f'<span><i style="background:{ALERT_COLOR};border-radius:50%"></i>alert (number links to the table)</span>'
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">'
        f"{refresh}<title>{_e(title)}</title><style>{_CSS}{PANEL_CSS}</style></head><body>"
        f'<header><h1>brandpulse <span>{_e(q.brand or "all brands")}</span></h1>{_controls(data)}</header><main>'
        f"{_cards(data)}"
        f'<section><h2>Sentiment per {_e(data.bucket)} · {_e(_when(data.start))} → {_e(_when(data.end))}</h2>'
        f'<div class="legend">{legend}</div>{sentiment_chart(data)}</section>'
        f"<section><h2>Mean confidence</h2>{confidence_chart(data)}</section>"
        f"<section><h2>Distinct voices and languages</h2>{voices_section(data.brand_panels, q.brand)}</section>"
        f"<section><h2>Share of voice</h2>{share_section(data.brand_panels, q.brand)}</section>"
        f"<section><h2>Alerts</h2>{_alerts_table(data)}</section>"
        f"<section><h2>Models on the human-labelled sample (all brands)</h2>{_models_table(data)}</section>"
        f"</main><footer>newest data {_e(_when(data.newest))} · generated {_e(_when(data.generated_at))} from {_e(data.source)}"
        f'{f" · refreshes every {q.refresh}s" if q.refresh else ""} · <a href="dashboard/data?{_e(_query_string(q))}">JSON</a></footer></body></html>'
    )


def _query_string(q: DashboardQuery) -> str:
    return urllib.parse.urlencode({k: v for k, v in q.model_dump().items() if v is not None})


def render_error(message: str, status: int) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>brandpulse dashboard — error {status}</title>'
        f"<style>{_CSS}</style></head><body><header><h1>brandpulse</h1></header><main><section>"
        f'<h2>Cannot show the dashboard ({status})</h2><p id="error">{_e(message)}</p>'
        '<p class="muted"><a href="?">Back to the default view</a></p></section></main></body></html>'
    )


# ------------------------------------------------------------------ glue for web servers

Loader = Callable[[DashboardQuery], DashboardData]


def _load(params: Mapping[str, str], load: Loader) -> DashboardData | tuple[int, str]:
    try:
        return load(DashboardQuery.from_params(params))
    except ValueError as exc:
        return 400, str(exc)
    except DashboardUnavailable as exc:
        return 503, str(exc)
    except Exception as exc:  # noqa: BLE001 - storage down: say so instead of a bare 500
        log.exception("dashboard data failed")
        return 503, f"storage query failed: {exc}"


def build_data(params: Mapping[str, str], load: Loader) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) for ``/dashboard/data``. Synchronous: run it in a thread."""
    result = _load(params, load)
    if isinstance(result, tuple):
        return result[0], {"error": result[1]}
    return 200, result.model_dump(mode="json")


def build_page(params: Mapping[str, str], load: Loader) -> tuple[int, str]:
    """(status, HTML) for ``/dashboard``. Synchronous: run it in a thread."""
    result = _load(params, load)
    if isinstance(result, tuple):
        return result[0], render_error(result[1], result[0])
    return 200, render_dashboard(result)


class DashboardUnavailable(RuntimeError):
    """The data source (worker or ClickHouse) cannot answer right now."""


def fetch_from_worker(base_url: str, query: DashboardQuery, timeout: float = 30.0) -> DashboardData:
    """DashboardData from a worker's ``/dashboard/data`` (the only process that may open embedded chDB)."""
    url = f"{base_url.rstrip('/')}/dashboard/data?{_query_string(query)}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return DashboardData.model_validate(json.loads(resp.read()))
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", str(exc))
        except ValueError:
            message = str(exc)
        if exc.code == 400:
            raise ValueError(message) from None
        raise DashboardUnavailable(f"worker at {base_url} answered {exc.code}: {message}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise DashboardUnavailable(
            f"cannot reach the worker at {base_url} ({exc}); start it with `brandpulse worker`, "
            "or point BRANDPULSE_WEB_HOST/BRANDPULSE_WEB_PORT at it"
        ) from None


def served_by_worker(base_url: str, timeout: float = 3.0) -> dict[str, str | None] | None:
    """Champion/challenger versions from the worker's ``/stats``; None if it cannot be asked."""
    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/stats", timeout=timeout) as resp:
            stats = json.loads(resp.read())
    except (OSError, ValueError):
        return None
    if not stats.get("champion"):
        return None
    return {"champion": stats["champion"], "challenger": stats.get("challenger")}


def worker_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.web_host in ("0.0.0.0", "::", "") else settings.web_host
    return f"http://{host}:{settings.web_port}"


def create_dashboard_app(
    settings: Settings,
    store: ClickHouseStore | None = None,
    served: Callable[[], Mapping[str, str | None] | None] | None = None,
) -> FastAPI:
    """The standalone dashboard (FastAPI): direct ClickHouse reads when it may, else the worker's data.

    ``store`` is used as given (not closed); otherwise a ClickHouse server URL is opened here, and
    embedded chDB is read through the worker's web port.
    """
    base = worker_url(settings)
    groups = BrandResolver.from_file(settings.brand_rules).groups
    ask_worker = served or (lambda: served_by_worker(base))
    direct = store is not None or not settings.clickhouse_dsn.startswith("chdb://")
    state: dict[str, ClickHouseStore] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        owned = store is None and direct
        if store is not None:
            state["store"] = store
        elif direct:
            opened = await asyncio.to_thread(ClickHouseStore, settings.clickhouse_dsn, settings.clickhouse_database)
            # The worker creates the schema too; doing it here lets the dashboard start first.
            await asyncio.to_thread(opened.ensure_schema)
            state["store"] = opened
        try:
            yield
        finally:
            if owned and "store" in state:
                state["store"].close()

    def load(query: DashboardQuery) -> DashboardData:
        if "store" in state:
            return gather_dashboard(state["store"], query, ask_worker(), source="clickhouse", groups=groups)
        return fetch_from_worker(base, query)

    app = FastAPI(title="brandpulse dashboard", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/dashboard")

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "source": "clickhouse" if direct else f"worker {base}"}

    @app.get("/dashboard", response_class=HTMLResponse)
    async def dashboard(request: Request) -> HTMLResponse:
        status, body = await asyncio.to_thread(build_page, dict(request.query_params), load)
        return HTMLResponse(body, status_code=status)

    @app.get("/dashboard/data")
    async def dashboard_data(request: Request) -> JSONResponse:
        status, body = await asyncio.to_thread(build_data, dict(request.query_params), load)
        return JSONResponse(body, status_code=status)

    return app


def dashboard_command(
    host: str = typer.Option("127.0.0.1", help="Interface to bind; 0.0.0.0 only inside a container"),
    port: int = typer.Option(8050, min=1, max=65535, help="Port to listen on"),
) -> None:
    """Serve the dashboard on its own port (reads ClickHouse directly, or the worker's data for chDB).

    Example: brandpulse dashboard --port 8050   then open http://127.0.0.1:8050/dashboard
    """
    import uvicorn

    from streams.settings import get_settings

    uvicorn.run(create_dashboard_app(get_settings()), host=host, port=port, log_level="info")
