"""Streams for tests and the benchmark: the airline corpus, an injected crisis, a retweet flood,
and seeded synthetic brand streams with a day/night cycle.

Reads a CSV file (the public airline-sentiment corpus: ``tweet_id, airline_sentiment,
negativereason, airline, text, tweet_created``); no Kafka or ClickHouse.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from drift.brand.post import BrandPost

AIRLINE_TIME_FORMAT = "%m/%d/%Y %H:%M"


@dataclasses.dataclass(frozen=True, slots=True)
class Corpus:
    posts: list[BrandPost]
    reasons: dict[str, str]  # post_id -> annotated negative reason


def load_airline(path: Path, confidence: float = 0.9) -> Corpus:
    """Posts in time order, labelled with the corpus's human sentiment (the stand-in for the model's)."""
    posts: list[BrandPost] = []
    reasons: dict[str, str] = {}
    with Path(path).open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            created = dt.datetime.strptime(row["tweet_created"], AIRLINE_TIME_FORMAT).replace(tzinfo=dt.timezone.utc)
            posts.append(BrandPost(post_id=row["tweet_id"], brand=row["airline"], text=row["text"], created_at=created,
                                   label=row["airline_sentiment"], confidence=confidence))
            if row["negativereason"]:
                reasons[row["tweet_id"]] = row["negativereason"]
    posts.sort(key=lambda p: p.created_at)
    return Corpus(posts, reasons)


def inject_crisis(
    corpus: Corpus, brand: str, reason: str, start: dt.datetime, *, n: int = 250, minutes: int = 10
) -> tuple[list[BrandPost], list[BrandPost]]:
    """Copy ``n`` real negative posts about ``brand`` with this annotated reason into ``minutes`` from
    ``start`` (the originals stay where they were, so the rest of the week is unchanged).
    Returns (whole stream, injected posts)."""
    picked = [p for p in corpus.posts if p.brand == brand and p.label == "negative" and corpus.reasons.get(p.post_id) == reason][:n]
    if len(picked) < n:
        raise ValueError(f"only {len(picked)} negative {brand} posts about {reason!r}")
    step = minutes * 60 / n
    moved = [dataclasses.replace(p, post_id=f"crisis-{p.post_id}", created_at=start + dt.timedelta(seconds=i * step))
             for i, p in enumerate(picked)]
    stream = corpus.posts + moved
    stream.sort(key=lambda p: p.created_at)
    return stream, moved


def retweet_flood(
    corpus: Corpus, original: BrandPost, start: dt.datetime, *, n: int = 500, minutes: int = 10
) -> list[BrandPost]:
    """``n`` retweets of one post by ``n`` different accounts within ``minutes``, merged into the corpus."""
    step = minutes * 60 / n
    rts = [dataclasses.replace(original, post_id=f"rt-{i}", author=f"fan{i}", text=f"RT @{original.author or 'someone'}: {original.text}",
                               created_at=start + dt.timedelta(seconds=i * step), is_repost=True)
           for i in range(n)]
    stream = corpus.posts + rts
    stream.sort(key=lambda p: p.created_at)
    return stream


def synthetic(
    seed: int, texts: Sequence[tuple[str, str]], *, brands: Sequence[str] = ("A", "B", "C"), days: int = 7,
    peak_per_hour: float = 30.0, dispersion: float = 0.1, start: dt.datetime = dt.datetime(2025, 3, 3, tzinfo=dt.timezone.utc),
) -> list[BrandPost]:
    """Stationary brand streams: an hour-of-day cycle (night ≈ 10 % of the peak), gamma-mixed Poisson
    counts per hour (negative-binomial, variance μ + dispersion·μ²), texts and labels drawn from
    ``texts`` ((text, label) pairs of a real corpus)."""
    rng = np.random.default_rng(seed)
    out: list[BrandPost] = []
    for b, brand in enumerate(brands):
        scale = peak_per_hour * (0.5 + b / max(1, len(brands) - 1))
        for hour in range(days * 24):
            cycle = 0.1 + 0.9 * math.sin(math.pi * ((hour % 24) - 5) / 18) ** 2 if 5 <= hour % 24 <= 23 else 0.1
            mu = scale * cycle
            lam = rng.gamma(1 / dispersion, mu * dispersion) if dispersion > 0 else mu
            for _ in range(rng.poisson(lam)):
                text, label = texts[rng.integers(len(texts))]
                at = start + dt.timedelta(hours=hour, seconds=float(rng.uniform(0, 3600)))
                out.append(BrandPost(post_id=f"s{seed}-{len(out)}", brand=brand, text=text, created_at=at, label=label,
                                     confidence=float(rng.uniform(0.5, 1.0)), author=f"user{rng.integers(1_000_000)}"))
    out.sort(key=lambda p: p.created_at)
    return out
