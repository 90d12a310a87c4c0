"""Every detector by name; a new detector is one ``register`` line here (see :mod:`drift.detectors`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drift.brand.config import BrandWatchConfig
from drift.brand.sentiment_share import SentimentShareDetector
from drift.brand.volume import VolumeSpikeDetector
from drift.detectors.base import Detector, Feed, Registration
from drift.detectors.confidence import ConfidenceDetector, Method
from drift.detectors.label_distribution import LabelDistributionDetector

REGISTRY: dict[str, Registration] = {}


def register(registration: Registration) -> None:
    if registration.name in REGISTRY:
        raise ValueError(f"a detector named {registration.name!r} is already registered")
    REGISTRY[registration.name] = registration


def registered(feeds: Feed) -> dict[str, Registration]:
    """The registrations fed with ``feeds``, by name."""
    return {name: r for name, r in REGISTRY.items() if r.feeds == feeds}


def _confidence(method: Method) -> Registration:
    return Registration(
        method,
        "confidence",
        make=lambda **options: ConfidenceDetector(method, **options),
        restore=lambda state, **_: ConfidenceDetector.from_state(state),
    )


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


register(_confidence("adwin"))
register(_confidence("page_hinkley"))
register(_confidence("kswin"))
register(Registration(
    "label_distribution",
    "label",
    make=lambda **options: LabelDistributionDetector(**options),
    restore=lambda state, **_: LabelDistributionDetector.from_state(state),
))
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
