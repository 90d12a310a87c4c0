"""Detection delay and false alarms of the drift detectors on seeded simulated streams.

Run ``brandpulse bench detectors [--seeds 20] [--method adwin --method page_hinkley --method kswin]``.

Streams (``--length`` posts, change at the midpoint):

- confidence: ``1/3 + 2/3·Beta`` (the range of a 3-class max-probability) with mean 0.85 (sd ≈ 0.09),
  dropping to mean 0.77 at the change — roughly what a sentiment model shows when a new topic or
  slang wave arrives; stationary streams never change.
- labels: i.i.d. draws from negative/neutral/positive = 30/40/30 %, the negative share jumping
  by +20 points (or +10) at the change, the other classes shrinking proportionally.

Per scenario and detector: streams detected, median / max delay in posts after the change,
false alarms (alerts before the change, or any alert on a stationary stream) and extra alerts
after the first (the "storm" the guards exist to prevent).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel

from drift.detectors.confidence import ConfidenceDetector, Method
from drift.detectors.label_distribution import LabelDistributionDetector

LABELS = ("negative", "neutral", "positive")
REFERENCE = (0.3, 0.4, 0.3)


class Row(BaseModel):
    scenario: str
    detector: str
    streams: int
    detected: int
    median_delay: float | None
    max_delay: int | None
    false_alarms: int
    extra_alerts: int
    us_per_update: float


def confidence_stream(seed: int, length: int, change: int | None, before: float = 0.775, after: float = 0.655) -> np.ndarray:
    """Confidences in [1/3, 1]; Beta means 0.775 → 0.655 give confidence means ≈0.85 → ≈0.77."""
    rng = np.random.default_rng(seed)
    k = 8.0
    cut = length if change is None else change
    x = np.concatenate([rng.beta(before * k, (1 - before) * k, cut), rng.beta(after * k, (1 - after) * k, length - cut)])
    return 1 / 3 + 2 / 3 * x


def label_stream(seed: int, length: int, change: int | None, jump: float) -> list[str]:
    rng = np.random.default_rng(10_000 + seed)
    ref = np.array(REFERENCE)
    shifted = ref.copy()
    shifted[0] += jump
    shifted[1:] -= jump * ref[1:] / ref[1:].sum()
    cut = length if change is None else change
    idx = np.concatenate([rng.choice(3, cut, p=ref), rng.choice(3, length - cut, p=shifted)])
    return [LABELS[i] for i in idx]


def _score(
    scenario: str,
    name: str,
    streams: Sequence[Sequence[Any]],
    change: int | None,
    make: Callable[[], Callable[[Any], object | None]],
) -> Row:
    delays: list[int] = []
    false_alarms = extra = updates = 0
    elapsed = 0.0
    for values in streams:
        update = make()
        fired: list[int] = []
        start = time.perf_counter()
        for i, v in enumerate(values):
            if update(v) is not None:
                fired.append(i)
        elapsed += time.perf_counter() - start
        updates += len(values)
        if change is None:
            false_alarms += len(fired)
            continue
        before = [i for i in fired if i < change]
        after = [i for i in fired if i >= change]
        false_alarms += len(before)
        if after:
            delays.append(after[0] - change + 1)
            extra += len(after) - 1
    return Row(
        scenario=scenario,
        detector=name,
        streams=len(streams),
        detected=len(delays),
        median_delay=statistics.median(delays) if delays else None,
        max_delay=max(delays) if delays else None,
        false_alarms=false_alarms,
        extra_alerts=extra,
        us_per_update=1e6 * elapsed / max(updates, 1),
    )


def run(seeds: int, length: int, methods: Sequence[Method]) -> list[Row]:
    change = length // 2
    rows: list[Row] = []
    conf = {
        "confidence stationary": (None, [confidence_stream(s, length, None).tolist() for s in range(seeds)]),
        "confidence -0.08 mean": (change, [confidence_stream(s, length, change).tolist() for s in range(seeds)]),
    }
    for scenario, (at, streams) in conf.items():
        for method in methods:
            def make(method: Method = method) -> Callable[[Any], object | None]:
                return ConfidenceDetector(method).update

            rows.append(_score(scenario, method, streams, at, make))
    ref = dict(zip(LABELS, REFERENCE))
    label_scenarios = {
        "labels stationary": (None, [label_stream(s, length, None, 0.0) for s in range(seeds)]),
        "labels negative +20pt": (change, [label_stream(s, length, change, 0.2) for s in range(seeds)]),
        "labels negative +10pt": (change, [label_stream(s, length, change, 0.1) for s in range(seeds)]),
    }
    for scenario, (at, label_streams) in label_scenarios.items():
        rows.append(_score(scenario, "chi2+js+psi", label_streams, at, lambda: LabelDistributionDetector(ref).update))
    return rows


def format_table(rows: Sequence[Row]) -> str:
    head = f"{'scenario':<24} {'detector':<13} {'detected':>9} {'median delay':>13} {'max delay':>10} {'false alarms':>13} {'extra alerts':>13} {'µs/update':>10}"
    lines = [head, "-" * len(head)]
    for r in rows:
        detected = f"{r.detected}/{r.streams}" if "stationary" not in r.scenario else "-"
        med = "-" if r.median_delay is None else f"{r.median_delay:.0f}"
        mx = "-" if r.max_delay is None else str(r.max_delay)
        lines.append(
            f"{r.scenario:<24} {r.detector:<13} {detected:>9} {med:>13} {mx:>10} {r.false_alarms:>13} {r.extra_alerts:>13} {r.us_per_update:>10.1f}"
        )
    return "\n".join(lines)
