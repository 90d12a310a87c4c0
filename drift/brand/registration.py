"""The brand detectors' registrations in :mod:`drift.detectors.registry` (imported by the brand monitor)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drift.brand.config import BrandWatchConfig
from drift.brand.sentiment_share import SentimentShareDetector
from drift.brand.volume import VolumeSpikeDetector
from drift.detectors.base import Detector, Registration
from drift.detectors.registry import register


def _brand(
    name: str,
    build: Callable[[BrandWatchConfig], Detector[Any, Any]],
    load: Callable[[dict[str, Any], BrandWatchConfig], Detector[Any, Any]],
) -> Registration:
    return Registration(
        f"brand_{name}",
        "brand_minute",
        make=lambda config=None: build(config or BrandWatchConfig()),
        restore=lambda state, config=None: load(state, config or BrandWatchConfig()),
    )


register(_brand(
    "volume",
    lambda c: VolumeSpikeDetector(c.volume, c.baseline),
    lambda s, c: VolumeSpikeDetector.from_state(s, c.volume, c.baseline),
))
register(_brand(
    "negative",
    lambda c: SentimentShareDetector("negative", c.negative, c.baseline),
    lambda s, c: SentimentShareDetector.from_state(s, c.negative, c.baseline),
))
register(_brand(
    "positive",
    lambda c: SentimentShareDetector("positive", c.positive, c.baseline),
    lambda s, c: SentimentShareDetector.from_state(s, c.positive, c.baseline),
))
