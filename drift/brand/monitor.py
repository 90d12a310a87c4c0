"""Per-brand fan-out: event-time minutes, the registered detectors, one incident per brand.

:meth:`BrandMonitor.observe` takes scored posts in any batch size and returns the brand events
that became due. Time is the posts' own ``created_at`` (a replay of 2015 runs the same way as a
live feed): a minute closes ``lateness_min`` after the newest post's minute, every brand gets a
bucket for every closed minute (zero when it was not mentioned), and a post older than the last
closed minute is counted in ``late`` and left out of detection. When the whole feed goes silent for
longer than ``max_gap_min`` that is an outage, not a quiet hour: detectors drop their open windows
instead of learning a run of zeros that would make the next normal hour look like a spike.

Several detectors usually fire on one real event (a crisis raises volume *and* negative share).
Brand teams want one page per event, so detector signals are merged into one **incident** per
brand: the first start opens it (kind = the most important detector that fired: negative spike,
then volume, then positive surge) and pages; a second detector starting, or any detector
escalating, becomes one ``escalate`` event (at most one per ``escalate_every_min``); the incident
resolves when every detector in it has.
Brand events never ask for a retrain: they are about the brand, not the model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections import deque
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field

from drift.brand.base import Bucket, Phase, SpikeDetector, SpikeKind, SpikeSignal, minute_time
from drift.brand.config import BrandWatchConfig
from drift.brand.post import BrandPost
import drift.brand.registration  # noqa: F401  (registers the brand detectors)
from drift.brand.voices import VoiceCounter, fingerprint
from drift.brand.why import Why, explain
from drift.detectors.base import Registration
from drift.detectors.registry import registered

STATE_VERSION = 1
PRIORITY: dict[str, int] = {"brand_negative_spike": 0, "brand_volume_spike": 1, "brand_positive_surge": 2}
FOCUS: dict[str, str | None] = {"brand_negative_spike": "negative", "brand_volume_spike": None, "brand_positive_surge": "positive"}

# State keys stay the short names ("volume", …) the state files already use.
DETECTORS: dict[str, Registration] = {name.removeprefix("brand_"): r for name, r in registered("brand_minute").items()}


class BrandEvent(BaseModel):
    event_id: str
    brand: str
    phase: Phase
    kind: SpikeKind = Field(description="the incident's kind: the most important detector that opened it")
    signals: list[SpikeSignal]
    facets: list[SpikeKind] = Field(description="kinds of every detector in the incident so far")
    started_at: dt.datetime
    at: dt.datetime
    why: Why | None = None
    message: str

    @property
    def alert_kind(self) -> str:
        return {"start": self.kind, "escalate": "brand_spike_escalated", "resolve": "brand_spike_resolved"}[self.phase]


class Incident(BaseModel):
    kind: SpikeKind
    started: int
    active: list[str] = Field(default_factory=list, description="detector names still in a spike")
    facets: list[SpikeKind] = Field(default_factory=list)
    peak: float = 0.0
    peak_window: int = 0
    escalated: int = Field(default=0, description="minute of the last escalation message")


def _fmt_p(p: float) -> str:
    return "p<1e-300" if p <= 0 else f"p={p:.1e}"


def describe(brand: str, s: SpikeSignal) -> str:
    where = {"trailing": "the last 12 h", "recent": "the 2 h before", "hour_of_day": "this hour of day", "hour_of_week": "this hour of the week"}[s.baseline]
    if s.kind == "brand_volume_spike":
        return (f"{brand}: {s.observed:.0f} voices in the last {s.window_min} min vs {s.expected:.1f} expected "
                f"(×{s.ratio:.1f}, {_fmt_p(s.p_value)}, baseline {where})")
    label = "negative" if s.kind == "brand_negative_spike" else "positive"
    return (f"{brand}: {label} share {s.share or 0:.0%} ({s.observed:.0f} voices) in the last {s.window_min} min "
            f"vs {s.expected_share or 0:.0%} usual ({_fmt_p(s.p_value)}, baseline {where})")


class BrandTrack:
    """Everything the monitor keeps for one brand."""

    def __init__(self, brand: str, config: BrandWatchConfig, seed: int) -> None:
        self.brand = brand
        self.config = config
        self.detectors: dict[str, SpikeDetector] = {name: r.make(config) for name, r in DETECTORS.items()}  # type: ignore[misc]
        self.voices = VoiceCounter(config.voices)
        self.open: dict[int, Bucket] = {}
        self.recent: deque[BrandPost] = deque(maxlen=config.max_recent_posts)
        self.sample: dict[int, list[Any]] = {}  # hour -> [posts seen, reservoir]
        self.incident: Incident | None = None
        self.pending: list[SpikeSignal] = []  # growth not yet told (escalation rate limit)
        self._rng = random.Random(seed)

    def add(self, post: BrandPost, minute: int) -> None:
        voice = self.voices.observe(fingerprint(post.text), post.author, minute)
        b = self.open.get(minute)
        if b is None:
            b = self.open[minute] = Bucket(minute)
        b.raw += 1
        b.voices += voice
        b.reach += post.reposts
        if post.label == "negative":
            b.negative_raw += 1
            b.negative += voice
        elif post.label == "positive":
            b.positive_raw += 1
            b.positive += voice
        self.recent.append(post)
        self._sample(post, minute // 60)

    def _sample(self, post: BrandPost, hour: int) -> None:
        cell = self.sample.get(hour)
        if cell is None:
            cell = self.sample[hour] = [0, []]
            keep = self.config.why.baseline_hours + 2
            for old in [h for h in self.sample if h < hour - keep]:
                del self.sample[old]
        cell[0] += 1
        cap = self.config.why.sample_per_hour
        if len(cell[1]) < cap:
            cell[1].append(post)
        else:
            j = self._rng.randrange(cell[0])
            if j < cap:
                cell[1][j] = post

    def why(self, end_minute: int, window_min: int, focus: str | None, before: int) -> Why:
        start = end_minute - window_min + 1
        window = [p for p in self.recent if start <= p.minute <= end_minute]
        first_hour = (before // 60) - self.config.why.baseline_hours
        baseline = [p for h, (_, posts) in self.sample.items() if h >= first_hour for p in posts if p.minute < before]
        return explain(self.brand, window, baseline, start=minute_time(start), end=minute_time(end_minute + 1),
                       focus=focus, config=self.config.why)


class BrandMonitor:
    def __init__(self, config: BrandWatchConfig | None = None) -> None:
        self.config = config or BrandWatchConfig()
        self.tracks: dict[str, BrandTrack] = {}
        self.closed: int | None = None  # last closed minute
        self.newest: int | None = None
        self.late = 0
        self.outages = 0

    def track(self, brand: str) -> BrandTrack:
        t = self.tracks.get(brand)
        if t is None:
            t = self.tracks[brand] = BrandTrack(brand, self.config, seed=len(self.tracks))
        return t

    def observe(self, posts: Iterable[BrandPost], now: dt.datetime | None = None) -> list[BrandEvent]:
        """Count the posts; close every minute the watermark passed; return the events that became due."""
        cap = int(now.timestamp()) // 60 if now is not None else None
        for p in posts:
            minute = p.minute if cap is None else min(p.minute, cap)  # a clock far ahead must not close the future
            if self.closed is not None and minute <= self.closed:
                self.late += 1
                continue
            self.track(p.brand).add(p, minute)
            self.newest = minute if self.newest is None else max(self.newest, minute)
        if self.newest is None:
            return []
        return self._close_until(self.newest - self.config.lateness_min)

    def _close_until(self, watermark: int) -> list[BrandEvent]:
        events: list[BrandEvent] = []
        if self.closed is None:
            first = min((m for t in self.tracks.values() for m in t.open), default=watermark + 1)
            self.closed = first - 1
        busy = sorted({m for t in self.tracks.values() for m in t.open if m <= watermark})
        i = 0
        m = self.closed + 1
        while m <= watermark:
            while i < len(busy) and busy[i] < m:
                i += 1
            nxt = busy[i] if i < len(busy) else self.newest or watermark
            if nxt - m > self.config.max_gap_min:
                self.outages += 1
                for t in self.tracks.values():
                    for det in t.detectors.values():
                        det.skip()
                m = nxt
                continue
            for t in self.tracks.values():
                events += self._close_minute(t, m)
            m += 1
        self.closed = max(self.closed, watermark)
        return events

    def _close_minute(self, t: BrandTrack, minute: int) -> list[BrandEvent]:
        bucket = t.open.pop(minute, None) or Bucket(minute)
        signals = [s for s in (det.update(bucket) for det in t.detectors.values()) if s is not None]
        if not signals and not t.pending:
            return []
        events: list[BrandEvent] = []
        starts = sorted((s for s in signals if s.phase == "start"), key=lambda s: PRIORITY[s.kind])
        inc = t.incident
        if inc is None and starts:
            lead = starts[0]
            inc = t.incident = Incident(kind=lead.kind, started=minute, active=[s.detector for s in starts],
                                        facets=[s.kind for s in starts], peak=lead.observed, peak_window=lead.window_min)
            events.append(self._event(t, "start", starts, minute, lead))
            signals = [s for s in signals if s.phase != "start"]
        if inc is None:
            return events
        for s in signals:
            if s.phase == "start" and s.detector not in inc.active:
                inc.active.append(s.detector)
                if s.kind not in inc.facets:
                    inc.facets.append(s.kind)
            if s.phase in ("start", "escalate") and s.kind == inc.kind and s.observed > inc.peak:
                inc.peak, inc.peak_window = s.observed, s.window_min
        # Growth inside the rate limit is held back and told once the limit allows.
        growing = {s.detector: s for s in t.pending + [s for s in signals if s.phase in ("start", "escalate")]}
        t.pending = list(growing.values())
        if t.pending and minute - max(inc.started, inc.escalated) >= self.config.escalate_every_min:
            inc.escalated = minute
            events.append(self._event(t, "escalate", t.pending, minute, min(t.pending, key=lambda s: PRIORITY[s.kind])))
            t.pending = []
        ended = [s for s in signals if s.phase == "resolve"]
        inc.active = [d for d in inc.active if d not in {s.detector for s in ended}]
        if ended and not inc.active:
            events.append(self._event(t, "resolve", ended, minute, ended[0]))
            t.incident = None
            t.pending = []
        return events

    def _event(self, t: BrandTrack, phase: Phase, signals: list[SpikeSignal], minute: int, lead: SpikeSignal) -> BrandEvent:
        inc = t.incident
        assert inc is not None
        key = f"{t.brand}|{inc.started}|{phase}|{minute}"
        event_id = "brand-" + hashlib.sha1(key.encode()).hexdigest()[:16]
        why: Why | None = None
        if phase == "resolve":
            minutes = minute - inc.started
            message = (f"{t.brand} is back to normal after {minutes} min "
                       f"(peak {inc.peak:.0f} in {inc.peak_window} min; {', '.join(k.removeprefix('brand_') for k in inc.facets)}).")
        else:
            why = t.why(minute, lead.window_min, FOCUS[lead.kind], before=min(inc.started, minute) - lead.window_min + 1)
            message = "; ".join(describe(t.brand, s) for s in sorted(signals, key=lambda s: PRIORITY[s.kind]))
            if phase == "escalate":
                message = "Still growing — " + message
            if why.terms or why.hashtags or why.handles:
                message += f". Mostly about: {why.headline()}"
        return BrandEvent(
            event_id=event_id, brand=t.brand, phase=phase, kind=inc.kind, signals=signals, facets=list(inc.facets),
            started_at=minute_time(inc.started), at=minute_time(minute + 1), why=why, message=message,
        )

    # ---- state ---------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """JSON-serialisable counts and detector state; the posts kept for the 'why' are not saved."""
        return {
            "version": STATE_VERSION,
            "closed": self.closed, "newest": self.newest, "late": self.late, "outages": self.outages,
            "tracks": {
                b: {
                    "detectors": {n: d.to_state() for n, d in t.detectors.items()},
                    "voices": t.voices.to_state(),
                    "open": [bk.to_list() for bk in t.open.values()],
                    "incident": t.incident.model_dump() if t.incident else None,
                }
                for b, t in self.tracks.items()
            },
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], config: BrandWatchConfig | None = None) -> "BrandMonitor":
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"brand monitor state version {state.get('version')!r}, expected {STATE_VERSION}")
        mon = cls(config)
        cfg = mon.config
        mon.closed, mon.newest, mon.late, mon.outages = state["closed"], state["newest"], state["late"], state["outages"]
        for brand, ts in state["tracks"].items():
            t = mon.track(brand)
            t.detectors = {n: DETECTORS[n].restore(s, cfg) for n, s in  # type: ignore[misc]
                            ts["detectors"].items() if n in DETECTORS}
            t.voices = VoiceCounter.from_state(ts["voices"], cfg.voices)
            t.open = {bk[0]: Bucket.from_list(bk) for bk in ts["open"]}
            t.incident = Incident.model_validate(ts["incident"]) if ts["incident"] else None
        return mon


