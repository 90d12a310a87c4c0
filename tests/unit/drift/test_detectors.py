from __future__ import annotations

import json

import numpy as np
import pytest
from river.drift import ADWIN

from drift.detectors.confidence import ConfidenceDetector, GuardConfig
from tests.support.drift import confidences


def _signals(det: ConfidenceDetector, values) -> list:  # type: ignore[no-untyped-def]
    return [s for x in values if (s := det.update(float(x))) is not None]


@pytest.mark.parametrize("method", ["adwin", "page_hinkley"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fires_once_on_mean_shift_near_the_change(method: str, seed: int) -> None:
    values = confidences(seed, 8_000, change=4_000)
    signals = _signals(ConfidenceDetector(method), values)  # type: ignore[arg-type]
    assert len(signals) == 1, [s.index for s in signals]
    s = signals[0]
    assert 4_000 < s.index <= 4_400
    assert abs(s.change_index - 4_001) <= 60  # CUSUM split lands on the real change
    assert s.shift < -0.05 and s.reference_mean == pytest.approx(0.85, abs=0.01)


@pytest.mark.parametrize("method", ["adwin", "page_hinkley"])
def test_stationary_stream_never_alerts(method: str) -> None:
    for seed in range(3):
        assert _signals(ConfidenceDetector(method), confidences(100 + seed, 10_000)) == []  # type: ignore[arg-type]


def test_guard_turns_a_raw_adwin_storm_into_one_alert() -> None:
    # A slow slide from 0.85 to 0.65 over 3,000 posts: raw ADWIN keeps detecting along the way.
    rng = np.random.default_rng(5)
    level = np.concatenate([np.full(3_000, 0.85), np.linspace(0.85, 0.65, 3_000), np.full(3_000, 0.65)])
    values = np.clip(level + rng.normal(0, 0.08, level.size), 0.34, 1.0)
    raw = ADWIN()
    raw_fires = 0
    for x in values:
        raw.update(float(x))
        raw_fires += raw.drift_detected
    guarded = _signals(ConfidenceDetector("adwin", GuardConfig(cooldown=4_000)), values)
    assert raw_fires >= 3
    assert len(guarded) == 1


def test_warmup_suppresses_early_changes() -> None:
    values = np.concatenate([confidences(3, 300), confidences(4, 3_000, before=0.6)])
    assert _signals(ConfidenceDetector("adwin", GuardConfig(warmup=1_000)), values) == []


def test_rearms_after_settling_and_alerts_on_a_second_shift() -> None:
    first = confidences(6, 6_000, change=2_000)
    second = confidences(7, 4_000, change=0, after=0.775)  # back up to the original level
    signals = _signals(ConfidenceDetector("adwin"), np.concatenate([first, second]))
    assert [s.shift < 0 for s in signals] == [True, False]
    assert signals[1].index > 6_000


@pytest.mark.parametrize("method", ["adwin", "page_hinkley", "kswin"])
def test_state_round_trips_mid_stream(method: str) -> None:
    values = confidences(8, 5_000, change=3_000)
    original = ConfidenceDetector(method)  # type: ignore[arg-type]
    for x in values[:2_500]:
        original.update(float(x))
    restored = ConfidenceDetector.from_state(json.loads(json.dumps(original.to_state())))
    rest = values[2_500:]
    a = [s.model_dump() for s in _signals(original, rest)]
    b = [s.model_dump() for s in _signals(restored, rest)]
    assert a == b and len(a) == 1


def test_rejects_non_finite_values_and_unknown_methods() -> None:
    with pytest.raises(ValueError, match="finite"):
        ConfidenceDetector().update(float("nan"))
    with pytest.raises(ValueError, match="unknown method"):
        ConfidenceDetector("cusum")  # type: ignore[arg-type]
