"""Negative-share spikes and positive surges: has one sentiment's share of the brand's voices jumped?

Volume alone misses the crisis that does not raise volume much but turns it sour (and raises the
same page for a product launch as for an outage). Given the window's n voices, the count k of the
watched label is tested against the baseline share p₀ with the binomial tail P(K ≥ k | n, p₀),
confirmed against the time-of-day / week share once there is history. Gates: k ≥ ``min_count``
and k/n − p₀ ≥ ``min_shift`` (default 15 points: the airline corpus's negative share moves ±10
points from hour to hour on its own, which is opinion, not news).

One class, two registrations: ``negative`` → ``brand_negative_spike`` and ``positive`` →
``brand_positive_surge``.
"""

from __future__ import annotations

from typing import Any, Literal

from scipy import stats

from drift.brand.base import Bucket, Episode, SpikeKind, SpikeSignal, Test, conclude
from drift.brand.baseline import Baseline, BaselineKind
from drift.brand.config import BaselineConfig, SpikeConfig
from drift.brand.episodic import EpisodicSpike

Label = Literal["negative", "positive"]
KINDS: dict[Label, SpikeKind] = {"negative": "brand_negative_spike", "positive": "brand_positive_surge"}


class SentimentShareDetector(EpisodicSpike):
    def __init__(self, label: Label = "negative", config: SpikeConfig | None = None, baseline: BaselineConfig | None = None) -> None:
        self.label = label
        self.kind: SpikeKind = KINDS[label]
        self.config = config or SpikeConfig()
        self.baseline_config = baseline or BaselineConfig()
        raw = self.config.count == "raw"
        self.total = "raw" if raw else "voices"
        self.field = f"{label}_raw" if raw else label
        self.name = f"{label}_share[{self.total}]"
        self.baseline = Baseline(self.baseline_config, (self.total, self.field), self.config.windows_min)
        self.episode = Episode()

    def update(self, bucket: Bucket) -> SpikeSignal | None:
        cfg, ep = self.config, self.episode
        self._observe(bucket)
        if not ep.active and (self._quiet() or not self.baseline.ready):
            return None
        tests = self._window_tests(bucket.minute)
        if not tests:
            return None
        return conclude(self.name, self.kind, ep, self.baseline, bucket.minute, tests, cfg)

    def _quiet(self) -> bool:
        """No window can pass the gates, judged on the trailing share alone (every expected share is
        at least that)."""
        base, cfg = self.baseline, self.config
        total_rate = base.trailing_rate(self.total)
        p0 = base.trailing_rate(self.field) / total_rate if total_rate else 0.0
        for w in cfg.windows_min:
            k, n = base.window_sum(self.field, w), base.window_sum(self.total, w)
            if k >= cfg.min_count and k / n - p0 >= cfg.min_shift:
                return False
        return True

    def _test(self, window_min: int, minute: int) -> Test:
        cfg, base = self.config, self.baseline
        n = base.window_sum(self.total, window_min)
        k = base.window_sum(self.field, window_min)
        total_rate = base.trailing_rate(self.total)
        shares: list[tuple[float, BaselineKind]] = [
            (base.trailing_rate(self.field) / total_rate if total_rate else 0.0, "trailing")
        ]
        profile = base.profile_share(self.field, self.total, minute - window_min // 2)
        if profile is not None:
            shares.append(profile)
        p0, kind = max(shares)
        share = k / n if n else 0.0
        gates = k >= cfg.min_count and share - p0 >= cfg.min_shift
        p = 1.0
        if gates or self.episode.active:  # an open spike is watched until it is really over
            p, kind = max((float(stats.binom.sf(k - 1, n, min(max(s, 1e-6), 1 - 1e-6))), kd) for s, kd in shares)
        return Test(window_min=window_min, observed=k, expected=n * p0, p_value=p, baseline=kind, gates=gates,
                    share=share, expected_share=p0)

    def to_state(self) -> dict[str, Any]:
        return {"label": self.label, "baseline": self.baseline.to_state(), "episode": self.episode.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any], config: SpikeConfig, baseline: BaselineConfig) -> "SentimentShareDetector":
        det = cls(state["label"], config, baseline)
        det.baseline.load_state(state["baseline"])
        det.episode = Episode.from_state(state["episode"])
        return det
