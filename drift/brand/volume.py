"""Mention-volume spikes: is the count in the last window improbably high for this brand?

Counts are distinct voices by default (``SpikeConfig.count``), so a retweet or copy-paste flood is
one voice. The expected count μ of a window comes from :mod:`drift.brand.baseline` (trailing 12 h, the
2 h just before and, once there is history, the same hour of day / week; the largest tail
probability of them must be significant). The tail is negative-binomial, P(X ≥ x) with variance μ + φμ², φ measured on
the trailing window's own window-sized counts and never below ``min_dispersion``: social counts
are overdispersed (bursty hours, day/night), and a Poisson test on them pages on ordinary busy hours. Cheap gates come first
(x ≥ ``min_count``, x ≥ ``min_ratio``·μ), so scipy is called only for candidate spikes. A brand
watched for 12 h but (nearly) silent fires only on ``cold_start_count`` voices in the shortest
window: a real flood, not the first normal hour of a brand that was not collected. A brand the
worker has not watched for 12 h yet (a fresh install, a brand first seen) never fires.
"""

from __future__ import annotations

from typing import Any

from scipy import stats

from drift.brand.base import Bucket, Episode, SpikeKind, SpikeSignal, Test, conclude
from drift.brand.baseline import Baseline, BaselineKind
from drift.brand.config import BaselineConfig, SpikeConfig
from drift.brand.episodic import EpisodicSpike


def count_tail(x: float, mu: float, phi: float) -> float:
    """P(X ≥ x) for a negative binomial with mean ``mu`` and variance mu + phi·mu² (Poisson at phi = 0)."""
    if phi < 1e-9:
        return float(stats.poisson.sf(x - 1, mu))
    r = 1.0 / phi
    return float(stats.nbinom.sf(x - 1, r, r / (r + mu)))


class VolumeSpikeDetector(EpisodicSpike):
    kind: SpikeKind = "brand_volume_spike"

    def __init__(self, config: SpikeConfig | None = None, baseline: BaselineConfig | None = None) -> None:
        self.config = config or SpikeConfig()
        self.baseline_config = baseline or BaselineConfig()
        self.field = self.config.count
        self.name = f"volume[{self.field}]"
        self.baseline = Baseline(self.baseline_config, (self.field,), self.config.windows_min)
        self.episode = Episode()

    def update(self, bucket: Bucket) -> SpikeSignal | None:
        cfg = self.config
        ep = self.episode
        self._observe(bucket)
        if not ep.active and self._quiet():
            return None
        if ep.active or self.baseline.ready:
            tests = self._window_tests(bucket.minute)
        elif len(self.baseline.trailing) >= self.baseline.cfg.min_history_min:
            tests = self._cold_test()  # watched long enough to know the brand was quiet
        else:
            return None  # a fresh worker knows nothing yet: its first busy minutes are not news
        if not tests:
            return None
        return conclude(self.name, self.kind, ep, self.baseline, bucket.minute, tests, cfg)

    def _quiet(self) -> bool:
        """No window can pass the gates, judged on the trailing rate alone (every expectation is at
        least that): spares the tests on the vast majority of minutes."""
        base, cfg = self.baseline, self.config
        rate = max(base.cfg.floor_rate, base.trailing_rate(self.field))
        for w in cfg.windows_min:
            x = base.window_sum(self.field, w)
            if x >= cfg.min_count and (x >= cfg.cold_start_count or x >= cfg.min_ratio * rate * w):
                return False
        return True

    def _cold_test(self) -> list[Test]:
        """Watched for ``min_history_min`` but (nearly) silent: only a flood of voices is news."""
        w = min(self.config.windows_min)
        x = self.baseline.window_sum(self.field, w)
        if x < self.config.cold_start_count:
            return []
        mu = self.baseline.cfg.floor_rate * w
        return [Test(window_min=w, observed=x, expected=mu, p_value=count_tail(x, mu, self.config.min_dispersion),
                     baseline="trailing", gates=True)]

    def _test(self, window_min: int, minute: int) -> Test:
        cfg, base = self.config, self.baseline
        x = base.window_sum(self.field, window_min)
        floor = base.cfg.floor_rate * window_min
        expectations: list[tuple[float, BaselineKind]] = [(max(floor, base.trailing_rate(self.field) * window_min), "trailing")]
        local = base.local_rate(self.field)
        if local is not None:
            expectations.append((max(floor, local * window_min), "recent"))
        profile = base.profile_rate(self.field, minute - window_min // 2)
        if profile is not None:
            expectations.append((max(floor, profile[0] * window_min), profile[1]))
        mu, kind = max(expectations)
        ratio = cfg.min_ratio if profile is not None else cfg.min_ratio_unseasoned
        gates = x >= cfg.min_count and x >= ratio * mu
        p = 1.0
        if gates or self.episode.active:  # an open spike is watched until it is really over
            # A dozen trailing windows estimate φ poorly (often 0): never trust less than the floor.
            phi = max(cfg.min_dispersion, base.dispersion(self.field, window_min))
            p, kind = max((count_tail(x, m, phi), k) for m, k in expectations)
        return Test(window_min=window_min, observed=x, expected=mu, p_value=p, baseline=kind, gates=gates)

    def to_state(self) -> dict[str, Any]:
        return {"baseline": self.baseline.to_state(), "episode": self.episode.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any], config: SpikeConfig, baseline: BaselineConfig) -> "VolumeSpikeDetector":
        det = cls(config, baseline)
        det.baseline.load_state(state["baseline"])
        det.episode = Episode.from_state(state["episode"])
        return det
