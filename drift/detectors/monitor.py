"""Fan scored posts out to drift detectors per model version, globally and per brand.

For every model version the monitor keeps one *global* track and one track per brand that has
reached ``min_brand_posts`` posts (smaller brands are too noisy to test and would multiply the
state for nothing; ``max_brands`` bounds it). A track holds:

- a :class:`drift.detectors.confidence.ConfidenceDetector` on the confidence of each post, and
- a :class:`drift.detectors.label_distribution.LabelDistributionDetector` on the predicted label. The global
  track compares against the checkpoint's ``reference_distribution`` when one was registered with
  :meth:`DriftMonitor.set_reference`; brand tracks (and versions without one) learn their
  reference from their first window, because brands legitimately differ from the validation mix.

``observe(batch)`` is synchronous and does no I/O; its cost per post is noise next to
transformer scoring (docs/benchmarks.md), so the Faust agent calls it inline after scoring and
forwards the returned ``Alert`` records. Persist with ``save(path)`` (atomic: temp file + ``fsync``
+ ``os.replace``; every ~30 s or on shutdown, not per batch) and restore with ``load(path)`` so a restart neither re-warms the
detectors nor re-alerts on a shift already reported.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from drift.detectors.confidence import ConfidenceDetector, DriftSignal, GuardConfig, Method
from drift.detectors.label_distribution import LabelDistributionDetector, LabelDriftSignal, LabelThresholds
from drift.records import Alert, ScoredPost
from models.files import atomic_write_text

STATE_VERSION = 1


class MonitorConfig(BaseModel):
    confidence_method: Method = "adwin"
    confidence_params: dict[str, Any] = Field(default_factory=dict)
    confidence_guard: GuardConfig = Field(default_factory=GuardConfig)
    label_thresholds: LabelThresholds = Field(default_factory=LabelThresholds)
    per_brand: bool = True
    min_brand_posts: int = Field(default=1_000, ge=1, description="posts a brand needs before it gets its own track")
    max_brands: int = Field(default=200, ge=0, description="most brand tracks per model version")
    examples: int = Field(default=5, ge=0, le=50, description="example post ids per alert")
    buffer: int = Field(default=500, ge=50, description="recent posts kept per track for examples / since")


class _Seen(BaseModel):
    post_id: str
    created_at: dt.datetime
    confidence: float
    label: str


class _Track:
    def __init__(self, config: MonitorConfig, reference: Mapping[str, float] | None, labels: Sequence[str]) -> None:
        self.n = 0
        self.confidence = ConfidenceDetector(
            config.confidence_method, config.confidence_guard, **config.confidence_params
        )
        self.labels = LabelDistributionDetector(reference or None, config.label_thresholds, labels=labels)
        self.recent: deque[_Seen] = deque(maxlen=max(config.buffer, config.label_thresholds.window))

    def since(self, index: int) -> list[_Seen]:
        """Buffered posts from 1-based stream index ``index`` on (the buffer may start later)."""
        skip = max(0, index - (self.n - len(self.recent)) - 1)
        return list(self.recent)[skip:]

    def to_state(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "confidence": self.confidence.to_state(),
            "labels": self.labels.to_state(),
            "recent": [s.model_dump(mode="json") for s in self.recent],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], config: MonitorConfig) -> _Track:
        track = cls.__new__(cls)
        track.n = int(state["n"])
        track.confidence = ConfidenceDetector.from_state(state["confidence"])
        track.labels = LabelDistributionDetector.from_state(state["labels"])
        track.recent = deque(
            (_Seen.model_validate(s) for s in state["recent"]),
            maxlen=max(config.buffer, config.label_thresholds.window),
        )
        return track


def _rise_start(posts: Sequence[_Seen], label: str, base_share: float) -> int:
    """Offset into ``posts`` where ``label`` began to exceed ``base_share``: argmin of the CUSUM."""
    cusum, lowest, at = 0.0, 0.0, 0
    for i, post in enumerate(posts):
        cusum += (1.0 if post.label == label else 0.0) - base_share
        if cusum < lowest:
            lowest, at = cusum, i + 1
    return min(at, max(len(posts) - 1, 0))


class DriftMonitor:
    """Per model version × (global | brand) drift detection over scored posts."""

    def __init__(
        self,
        config: MonitorConfig | None = None,
        references: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        self.config = config or MonitorConfig()
        self._references: dict[str, dict[str, float]] = {
            version: dict(ref) for version, ref in (references or {}).items()
        }
        self._tracks: dict[tuple[str, str | None], _Track] = {}
        self._brand_counts: dict[str, dict[str, int]] = {}

    def set_reference(self, model_version: str, reference_distribution: Mapping[str, float]) -> None:
        """Register a checkpoint's reference label mix; call when a model version is loaded."""
        if not reference_distribution:
            raise ValueError(
                f"reference distribution for {model_version!r} is empty; record it at registration "
                "(CheckpointMeta.reference_distribution) or skip set_reference to learn it live"
            )
        self._references[model_version] = dict(reference_distribution)

    def drop_version(self, model_version: str) -> None:
        """Forget every track of a retired model version."""
        self._tracks = {k: v for k, v in self._tracks.items() if k[0] != model_version}
        self._brand_counts.pop(model_version, None)
        self._references.pop(model_version, None)

    @property
    def keys(self) -> list[tuple[str, str | None]]:
        """(model_version, brand or None for global) of every live track."""
        return list(self._tracks)

    @property
    def versions(self) -> set[str]:
        """Model versions with a track or a reference label mix here."""
        return {k[0] for k in self._tracks} | set(self._references)

    def observe(self, batch: Sequence[ScoredPost]) -> list[Alert]:
        """Update all detectors with one scored batch; return the alerts it raised (usually none)."""
        alerts: list[Alert] = []
        for post in batch:
            for brand in self._scopes(post):
                track = self._track(post, brand)
                alerts.extend(self._feed(track, post, brand))
        return alerts

    def _scopes(self, post: ScoredPost) -> list[str | None]:
        scopes: list[str | None] = [None]
        if not self.config.per_brand:
            return scopes
        if (post.model_version, post.brand) in self._tracks:
            return [None, post.brand]
        counts = self._brand_counts.setdefault(post.model_version, {})
        counts[post.brand] = counts.get(post.brand, 0) + 1
        if counts[post.brand] < self.config.min_brand_posts:
            return scopes
        brand_tracks = sum(1 for v, b in self._tracks if v == post.model_version and b is not None)
        if brand_tracks < self.config.max_brands:
            scopes.append(post.brand)
        return scopes

    def _track(self, post: ScoredPost, brand: str | None) -> _Track:
        key = (post.model_version, brand)
        track = self._tracks.get(key)
        if track is None:
            reference = self._references.get(post.model_version) if brand is None else None
            labels = list(reference) if reference else list(post.probs) or [post.label]
            track = _Track(self.config, reference, labels)
            self._tracks[key] = track
        return track

    def _feed(self, track: _Track, post: ScoredPost, brand: str | None) -> list[Alert]:
        track.n += 1
        track.recent.append(
            _Seen(post_id=post.post_id, created_at=post.created_at, confidence=post.confidence, label=post.label)
        )
        alerts = []
        conf_signal = track.confidence.update(post.confidence, post.label)
        if conf_signal is not None:
            alerts.append(self._confidence_alert(track, conf_signal, post.model_version, brand))
        label_signal = track.labels.update(post.label)
        if label_signal is not None:
            alerts.append(self._label_alert(track, label_signal, post.model_version, brand))
        return alerts

    def _confidence_alert(self, track: _Track, s: DriftSignal, version: str, brand: str | None) -> Alert:
        after = track.since(s.change_index) or list(track.recent)[-1:]
        examples = sorted(after, key=lambda p: p.confidence)[: self.config.examples]
        direction = "fell" if s.shift < 0 else "rose"
        where = f"brand '{brand}'" if brand else "all brands"
        return Alert(
            alert_id=uuid.uuid4().hex,
            kind="confidence_drift",
            detector=s.detector,
            statistic=s.shift,
            threshold=self.config.confidence_guard.min_shift,
            brand=brand,
            window=s.index - s.change_index + 1,
            model_version=version,
            example_post_ids=[p.post_id for p in examples],
            message=(
                f"Mean confidence of {version} on {where} {direction} from {s.reference_mean:.3f} to "
                f"{s.current_mean:.3f} over the last {s.index - s.change_index + 1} posts ("
                + (f"{s.expected_mean:.3f} expected at their label mix, " if abs(s.expected_mean - s.reference_mean) >= 0.005 else "")
                + f"{s.shift:+.3f})."
            ),
            since=after[0].created_at,
        )

    def _label_alert(self, track: _Track, s: LabelDriftSignal, version: str, brand: str | None) -> Alert:
        window = list(track.recent)[-s.window :]
        start = _rise_start(window, s.rising_label, s.reference[s.rising_label])
        after = window[start:]
        examples = [p for p in reversed(after) if p.label == s.rising_label][: self.config.examples]
        where = f"brand '{brand}'" if brand else "all brands"
        mix = ", ".join(
            f"{label} {s.reference[label]:.0%}→{s.observed[label]:.0%}" for label in s.observed
        )
        return Alert(
            alert_id=uuid.uuid4().hex,
            kind="sentiment_shift",
            detector="label_mix(chi2+js+psi)",
            statistic=s.js,
            threshold=self.config.label_thresholds.js,
            brand=brand,
            window=s.window,
            model_version=version,
            example_post_ids=[p.post_id for p in examples],
            message=(
                f"Sentiment on {where} shifted ({mix}; rising: {s.rising_label}), as scored by {version}. "
                f"JS={s.js:.3f}, PSI={s.psi:.3f}, chi² p={s.p_value:.1e} over the last {s.window} posts."
            ),
            since=after[0].created_at if after else None,
        )

    # --- persistence -------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "state_version": STATE_VERSION,
            "config": self.config.model_dump(mode="json"),
            "references": self._references,
            "brand_counts": self._brand_counts,
            "tracks": [
                {"model_version": v, "brand": b, **track.to_state()} for (v, b), track in self._tracks.items()
            ],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> DriftMonitor:
        if state.get("state_version") != STATE_VERSION:
            raise ValueError(
                f"drift monitor state version {state.get('state_version')!r} is not {STATE_VERSION}; "
                "delete the drift state file to start the detectors afresh"
            )
        monitor = cls(MonitorConfig.model_validate(state["config"]), state["references"])
        monitor._brand_counts = {v: dict(c) for v, c in state["brand_counts"].items()}
        for t in state["tracks"]:
            monitor._tracks[(t["model_version"], t["brand"])] = _Track.from_state(t, monitor.config)
        return monitor

    def save(self, path: Path | str) -> None:
        """Write the state atomically: a crash mid-write leaves the previous file intact."""
        atomic_write_text(path, json.dumps(self.to_state(), separators=(",", ":")))

    @classmethod
    def load(cls, path: Path | str) -> DriftMonitor:
        path = Path(path)
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"no drift state at {path}; use DriftMonitor.load_or_create to start fresh"
            ) from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"drift state {path} is not valid JSON ({exc}); delete it to start afresh") from exc
        return cls.from_state(state)

    @classmethod
    def load_or_create(
        cls,
        path: Path | str,
        config: MonitorConfig | None = None,
        references: Mapping[str, Mapping[str, float]] | None = None,
    ) -> DriftMonitor:
        """Restore from ``path`` if it exists, else a fresh monitor; ``references`` are (re)applied."""
        monitor = cls.load(path) if Path(path).exists() else cls(config)
        for version, ref in (references or {}).items():
            monitor.set_reference(version, ref)
        return monitor
