"""What brand detectors eat and return, the protocol they share, and the life of one spike.

A detector is fed one closed minute of one brand (:class:`Bucket`) and answers a
:class:`SpikeSignal` (a spike started, escalated or resolved) or ``None`` — River's
``update → drift_detected`` shape, with the state machine that turns significance into
alert-worthy events kept in :class:`Episode` so every detector pages the same way:

- **start** when a window is significant and the detector is not in cooldown;
- **escalate** while active, each time the firing window's count grew by ``escalate_factor``
  since the last report (so a crisis that keeps growing pages at ×2, ×4, … not every minute);
- **resolve** after ``resolve_after_min`` calm minutes in a row (every window's p ≥ ``alpha_resolve``,
  gates ignored: a level that stays well above normal keeps the spike open instead of flapping);
  then ``cooldown_min`` minutes without a new start, so a count hovering at the threshold
  cannot page again and again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from drift.brand.config import SpikeConfig
from drift.detectors.base import Detector

Phase = Literal["start", "escalate", "resolve"]
SpikeKind = Literal["brand_volume_spike", "brand_negative_spike", "brand_positive_surge"]


@dataclass(slots=True)
class Bucket:
    """Counts of one brand in one event-time minute (``minute`` = epoch seconds // 60)."""

    minute: int
    raw: int = 0
    voices: int = 0
    negative: int = 0
    positive: int = 0
    negative_raw: int = 0
    positive_raw: int = 0
    reach: int = 0

    def get(self, field: str) -> int:
        return int(getattr(self, field))

    def to_list(self) -> list[int]:
        return list(asdict(self).values())

    @classmethod
    def from_list(cls, values: list[int]) -> "Bucket":
        return cls(*values)


def minute_time(minute: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(minute * 60, dt.timezone.utc)


class SpikeSignal(BaseModel):
    """One detector's event on one brand."""

    detector: str
    kind: SpikeKind
    phase: Phase
    minute: int
    window_min: int
    observed: float
    expected: float
    p_value: float
    baseline: Literal["trailing", "recent", "hour_of_day", "hour_of_week"]
    started_minute: int
    share: float | None = None
    expected_share: float | None = None
    peak: float = 0.0

    @property
    def ratio(self) -> float:
        return self.observed / self.expected if self.expected > 0 else float("inf")


class Test(BaseModel):
    """The outcome of testing one window: observed vs expected and its tail probability."""

    window_min: int
    observed: float
    expected: float
    p_value: float
    baseline: Literal["trailing", "recent", "hour_of_day", "hour_of_week"]
    gates: bool
    share: float | None = None
    expected_share: float | None = None


class SpikeDetector(Detector[Bucket, SpikeSignal], Protocol):
    """:class:`drift.detectors.base.Detector` fed one closed brand minute, plus what the brand monitor
    needs (one file each; registered in :mod:`drift.detectors` as ``brand_<name>``)."""

    kind: SpikeKind

    def skip(self) -> None:
        """The feed was down: forget the open windows, keep the baseline."""

    @property
    def active(self) -> bool: ...



@dataclass(slots=True)
class Episode:
    """Start / escalate / resolve / cooldown of one detector (see module docstring)."""

    active: bool = False
    started: int = 0
    reported: float = 0.0
    peak: float = 0.0
    window_min: int = 0
    calm: int = 0
    cooldown_until: int = -1

    def step(self, minute: int, tests: list[Test], cfg: SpikeConfig) -> tuple[Phase, Test] | None:
        firing = [t for t in tests if t.gates and t.p_value < cfg.alpha]
        if not self.active:
            if not firing or minute < self.cooldown_until:
                return None
            best = min(firing, key=lambda t: t.p_value)
            self.active, self.started, self.calm = True, minute, 0
            self.reported = self.peak = best.observed
            self.window_min = best.window_min
            return "start", best
        own = next((t for t in tests if t.window_min == self.window_min), None)
        if own is not None:
            self.peak = max(self.peak, own.observed)
        calm = all(t.p_value >= cfg.alpha_resolve for t in tests)
        self.calm = self.calm + 1 if calm else 0
        if self.calm >= cfg.resolve_after_min:
            self.active = False
            self.cooldown_until = minute + cfg.cooldown_min
            return "resolve", own or tests[0]
        if own is not None and own in firing and own.observed >= cfg.escalate_factor * self.reported:
            self.reported = own.observed
            return "escalate", own
        return None

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "Episode":
        return cls(**state)


def conclude(name: str, kind: str, episode: Episode, baseline: Any, minute: int, tests: list[Test], cfg: SpikeConfig) -> SpikeSignal | None:
    """Advance the episode with this minute's tests and say what it became (start, grow, resolve) or None.

    A starting spike's minutes leave the baseline, so the spike never becomes its own expectation.
    """
    outcome = episode.step(minute, tests, cfg)
    if outcome is None:
        return None
    phase, test = outcome
    if phase == "start":
        baseline.exclude_last(test.window_min)
    return SpikeSignal(
        detector=name, kind=kind, phase=phase, minute=minute, window_min=test.window_min,  # type: ignore[arg-type]
        observed=test.observed, expected=test.expected, p_value=test.p_value, baseline=test.baseline,
        started_minute=episode.started, share=test.share, expected_share=test.expected_share, peak=episode.peak,
    )
