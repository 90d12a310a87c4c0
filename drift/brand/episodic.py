"""What the volume and sentiment-share detectors share: a baseline fed minute by minute and one episode."""

from __future__ import annotations

from abc import ABC, abstractmethod

from drift.brand.base import Bucket, Episode, Test
from drift.brand.baseline import Baseline
from drift.brand.config import SpikeConfig


class EpisodicSpike(ABC):
    """Base of a spike detector: ``config``, ``baseline`` and ``episode`` are set by the subclass."""

    config: SpikeConfig
    baseline: Baseline
    episode: Episode

    @property
    def active(self) -> bool:
        return self.episode.active

    def skip(self) -> None:
        self.baseline.skip()

    def _observe(self, bucket: Bucket) -> None:
        """Add the minute to the baseline, except early in an episode: a spike must not teach the
        baseline that it is normal before it had ``absorb_after_min`` minutes to be reported."""
        ep = self.episode
        self.baseline.push(bucket, include=not (ep.active and bucket.minute - ep.started < self.config.absorb_after_min))

    def _window_tests(self, minute: int) -> list[Test]:
        """One test per configured window the baseline has seen enough minutes for."""
        return [self._test(w, minute) for w in self.config.windows_min if self.baseline.window_minutes >= w]

    @abstractmethod
    def _test(self, window_min: int, minute: int) -> Test:
        """Observed against expected over the ``window_min`` minutes ending at ``minute``."""
