"""Every registered detector through the same checks (modelled on River's test_drift_detectors.py):
quiet on a stationary stream, a signal on a clear shift, a JSON state round trip that continues
with the same signals, and bad input rejected with ValueError."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from drift.brand.base import Bucket
from drift.brand.config import BrandWatchConfig
from drift.detectors.base import Detector
import drift.brand.registration  # noqa: F401  (the brand detectors register on import)
from drift.detectors.registry import REGISTRY
from tests.support.drift import LABELS, START, buckets, confidences, labels_with_jump

# Options a registration's make/restore needs beyond its defaults, by what it is fed.
OPTIONS: dict[str, dict[str, Any]] = {
    "confidence": {},
    "label": {"labels": LABELS},
    "brand_minute": {"config": BrandWatchConfig()},
}
BRAND_DAY4_14H = 3 * 1440 + 14 * 60 - (START % 1440)  # the hour-of-day profile exists by then
BRAND_JUMPS = {
    "brand_volume": {"rate": 6.0},
    "brand_negative": {"rate": 2.0, "neg": 0.95, "pos": 0.02},
    "brand_positive": {"rate": 2.0, "neg": 0.1, "pos": 0.8},
}


def streams(name: str) -> tuple[Sequence[Any], Sequence[Any], int, Any]:
    """(stationary stream, shifted stream, index of the shift, one bad value) for a registered detector."""
    feeds = REGISTRY[name].feeds
    if feeds == "confidence":
        return list(confidences(11, 6_000)), list(confidences(12, 6_000, change=3_000)), 3_000, float("nan")
    if feeds == "label":
        steady = labels_with_jump(13, 4_000, change=4_000, base=(0.3, 0.4, 0.3), jump=0.0)
        return steady, labels_with_jump(14, 4_000, change=2_000, base=(0.3, 0.4, 0.3), jump=0.25), 2_000, "sarcastic"
    steady = buckets(1, 4 * 1440, rate=1.0)
    shifted = buckets(4, BRAND_DAY4_14H + 600, rate=2.0, jump_at=BRAND_DAY4_14H, jump=BRAND_JUMPS[name], jump_len=60)
    return steady, shifted, BRAND_DAY4_14H, Bucket(START)  # a minute long closed: out of order


def _signals(det: Detector[Any, Any], values: Sequence[Any]) -> list[dict[str, Any] | None]:
    return [s.model_dump() if (s := det.update(v)) is not None else None for v in values]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registered_detector_meets_the_protocol(name: str) -> None:
    registration = REGISTRY[name]
    options = OPTIONS[registration.feeds]
    steady, shifted, shift_at, bad = streams(name)

    quiet = registration.make(**options)
    assert [s for s in _signals(quiet, steady) if s] == [], "alerted on a stationary stream"

    a = registration.make(**options)
    before = _signals(a, shifted[:shift_at])
    assert not any(before), "alerted before the shift"
    b = registration.restore(json.loads(json.dumps(a.to_state())), **options)
    assert b.name == a.name and b.to_state() == a.to_state()
    after_a, after_b = _signals(a, shifted[shift_at:]), _signals(b, shifted[shift_at:])
    assert any(after_a), "no signal on a clear shift"
    assert after_a == after_b, "a restored detector went another way"

    with pytest.raises(ValueError):
        a.update(bad)


def test_a_name_is_registered_once() -> None:
    from drift.detectors.registry import register

    with pytest.raises(ValueError, match="already registered"):
        register(REGISTRY["adwin"])


def test_every_detector_is_registered() -> None:
    assert {"adwin", "page_hinkley", "kswin", "label_distribution", "brand_volume", "brand_negative", "brand_positive"} <= set(REGISTRY)
