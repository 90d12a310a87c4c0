"""Server-side SVG charts of a dashboard page: sentiment bars with the negative share and alert
markers, and mean confidence. Pure functions of :class:`~streams.views.dashboard.model.DashboardData`."""

from __future__ import annotations

import datetime as dt
import math

from streams.views.dashboard.format import esc, when
from streams.views.dashboard.model import MAX_BARS, DashboardData
from streams.views.trends import parse_duration

COLORS = {"negative": "#d64545", "neutral": "#9aa5b1", "positive": "#3f9c6d"}
SHARE_COLOR = "#5b21b6"
ALERT_COLOR = "#e8590c"


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
            parts.append(f'<text class="xlabel" x="{x:.1f}" y="{base + 19}" text-anchor="middle">{esc(_tick_label(t, span))}</text>')
        return "".join(parts)


def _empty_chart(width: int, height: int, message: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{esc(message)}" xmlns="http://www.w3.org/2000/svg">'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f8fafc" rx="6"/>'
        f'<text class="empty" x="{width / 2}" y="{height / 2}" text-anchor="middle">{esc(message)}</text></svg>'
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
        f'aria-label="Posts per {esc(data.bucket)} by sentiment, with negative share" xmlns="http://www.w3.org/2000/svg">'
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
            f"{when(b.start)}: {b.posts} posts — expected {b.expected('negative'):.0%} negative, "
            f"{b.expected('neutral'):.0%} neutral, {b.expected('positive'):.0%} positive; "
            f"{b.negative} flagged negative by the alert rule; mean confidence {b.mean_confidence:.3f}"
        )
        # Bars split each bucket by expected share, the same estimate as the line (see streams/views/trends.py).
        for label in ("negative", "neutral", "positive"):
            n = b.posts * b.expected(label)
            if not n:
                continue
            h = n / ymax * f.plot_h
            y_base -= h
            out.append(
                f'<rect class="bar bar-{label}" x="{x:.1f}" y="{y_base:.1f}" width="{bar_w - gap:.1f}" height="{h:.1f}" '
                f'fill="{COLORS[label]}"><title>{esc(tip)}</title></rect>'
            )
    points = [(f.x(b.start) + bar_w / 2, f.y(b.negative_share), b) for b in data.buckets if b.posts]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y, _) in enumerate(points))
    out.append(f'<path class="share-line" d="{path}" fill="none" stroke="{SHARE_COLOR}" stroke-width="2.2" stroke-linejoin="round"/>')
    if len(points) <= MAX_BARS:
        for x, y, b in points:
            out.append(
                f'<circle class="share-point" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{SHARE_COLOR}">'
                f"<title>{esc(f'{when(b.start)}: negative share {b.negative_share:.1%} of {b.posts}')}</title></circle>"
            )
    for i, a in enumerate(data.alerts, start=1):
        at = a.since or a.detected_at
        x = min(max(f.x(at), f.left), f.left + f.plot_w)
        tip = f"#{i} {a.kind} ({a.brand or 'all brands'}): {a.message}"
        out.append(
            f'<a href="#alert-{i}" class="alert-marker"><title>{esc(tip)}</title>'
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
        f'aria-label="Mean confidence per {esc(data.bucket)}" xmlns="http://www.w3.org/2000/svg">'
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
