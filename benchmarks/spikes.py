"""Brand spike detection: delay and false alarms over seeds, and the per-post cost.

Run ``brandpulse bench spikes [--seeds 10] [--data ../shared/data/airline/tweets.csv]``.

Scenarios, each over ``--seeds`` seeds (a seed picks the stream, the brand and the hour):

- ``synthetic stationary``: 5 brands × 7 days of negative-binomial counts with a day/night cycle
  (30 posts/h at the busiest brand's peak, night ≈ 10 %), texts and labels from the airline corpus.
  Every alert is a false alarm.
- ``synthetic crisis N/10min``: the same streams plus N real "lost luggage" complaints about one
  brand within 10 minutes on day 5 or 6, 09–18 h.
- ``airline crisis 250/10min``: the real week (16–24 Feb 2015) plus 250 real complaints of one
  airline's most common kind (annotated reason, e.g. "Customer Service Issue") within 10 minutes,
  20–23 Feb, 09–18 h.
  False alarms: alerts other than the crisis and the two real events of the week.
- ``airline retweet flood 500``: 500 retweets of one post within 10 minutes; any alert on that
  brand in the hour after is a false alarm (volume counts distinct voices).

Delay is minutes of data time from the crisis's first post until the alert is raised: the end of
the minute that tipped it plus the ``lateness_min`` (2) a minute waits for stragglers; "detected" means within 60 minutes, by a new
alert or, when the brand already has an incident open, by its "still growing" message.

Cost: µs of :meth:`BrandMonitor.observe` per post, (1) replaying the airline week (sparse: ~1.3
posts a minute, so the per-minute work of every brand dominates) and (2) a dense stream at the
worker's measured throughput, set against the worker's busy time per post (1 / posts per second).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import typer
from pydantic import BaseModel

from drift.brand.config import BrandWatchConfig
from drift.brand.monitor import BrandEvent, BrandMonitor
from drift.brand.post import BrandPost
from benchmarks.scenarios import Corpus, inject_crisis, load_airline, retweet_flood, synthetic

UTC = dt.timezone.utc
REAL_EVENTS = {("Southwest", "02-22"), ("Delta", "02-23")}
BIG_AIRLINES = ("United", "US Airways", "American", "Southwest", "Delta")


class Row(BaseModel):
    scenario: str
    runs: int
    detected: int | None
    median_delay_min: float | None
    max_delay_min: float | None
    false_alarms: int
    us_per_post: float


class CostRow(BaseModel):
    stream: str
    posts: int
    us_per_post: float
    share_of_worker: float


def replay(posts: Sequence[BrandPost], batch: int = 64) -> tuple[list[BrandEvent], float]:
    mon = BrandMonitor()
    events: list[BrandEvent] = []
    started = time.perf_counter()
    for i in range(0, len(posts), batch):
        events += mon.observe(posts[i:i + batch])
    return events, time.perf_counter() - started


def _starts(events: Sequence[BrandEvent]) -> list[BrandEvent]:
    return [e for e in events if e.phase == "start"]


def _crisis_outcome(events: Sequence[BrandEvent], brand: str, at: dt.datetime, ignore: set[tuple[str, str]]) -> tuple[float | None, int]:
    """(delay in minutes or None, false alarms) for a crisis on ``brand`` starting ``at``."""
    delay: float | None = None
    false = 0
    for e in events:
        # A crisis inside an incident already open for the brand is told as "still growing".
        told = e.phase == "start" or (e.phase == "escalate" and e.brand == brand)
        if not told:
            continue
        if e.brand == brand and at <= e.at <= at + dt.timedelta(minutes=60):
            if delay is None:  # raised once the watermark passed the minute: lateness_min after it
                delay = (e.at - at).total_seconds() / 60 + BrandWatchConfig().lateness_min
        elif e.phase == "start" and (e.brand, e.at.strftime("%m-%d")) not in ignore:
            false += 1
    return delay, false


def _row(scenario: str, delays: list[float | None] | None, false: int, runs: int, seconds: float, posts: int) -> Row:
    found = [d for d in delays or [] if d is not None]
    return Row(
        scenario=scenario, runs=runs, detected=None if delays is None else len(found),
        median_delay_min=statistics.median(found) if found else None, max_delay_min=max(found) if found else None,
        false_alarms=false, us_per_post=1e6 * seconds / max(posts, 1),
    )


def _crisis_posts(corpus: Corpus, brand: str, at: dt.datetime, n: int, rng: random.Random) -> list[BrandPost]:
    pool = [p for p in corpus.posts if p.label == "negative" and corpus.reasons.get(p.post_id) == "Lost Luggage"]
    picked = rng.sample(pool, n)
    return [dataclasses.replace(p, post_id=f"crisis-{i}", brand=brand, author=f"cust{i}",
                                created_at=at + dt.timedelta(seconds=600 * i / n)) for i, p in enumerate(picked)]


def run(data: Path, seeds: int, worker_posts_per_s: float) -> tuple[list[Row], list[CostRow]]:
    corpus = load_airline(data)
    texts = [(p.text, p.label) for p in corpus.posts]
    rows: list[Row] = []
    base_start = dt.datetime(2025, 3, 3, tzinfo=UTC)
    brands = ("A", "B", "C", "D", "E")

    false = posts = 0
    seconds = 0.0
    for seed in range(seeds):
        stream = synthetic(seed, texts, brands=brands, days=7, start=base_start)
        events, took = replay(stream)
        false += len(_starts(events))
        seconds, posts = seconds + took, posts + len(stream)
    rows.append(_row(f"synthetic stationary ({len(brands) * 7 * seeds} brand-days)", None, false, seeds, seconds, posts))

    for n in (250, 60):
        delays: list[float | None] = []
        false = posts = 0
        seconds = 0.0
        for seed in range(seeds):
            rng = random.Random(seed)
            brand = rng.choice(brands)
            at = base_start + dt.timedelta(days=rng.choice((4, 5)), hours=rng.randint(9, 18), minutes=rng.randint(0, 59))
            stream = sorted(synthetic(seed, texts, brands=brands, days=7, start=base_start) + _crisis_posts(corpus, brand, at, n, rng),
                            key=lambda p: p.created_at)
            events, took = replay(stream)
            delay, f = _crisis_outcome(events, brand, at, set())
            delays.append(delay)
            false, seconds, posts = false + f, seconds + took, posts + len(stream)
        rows.append(_row(f"synthetic crisis {n}/10min", delays, false, seeds, seconds, posts))

    delays = []
    false = posts = 0
    seconds = 0.0
    for seed in range(seeds):
        rng = random.Random(1000 + seed)
        brand = rng.choice(BIG_AIRLINES)
        at = dt.datetime(2015, 2, rng.randint(20, 23), rng.randint(9, 18), rng.randint(0, 59), tzinfo=UTC)
        reasons = Counter(corpus.reasons[p.post_id] for p in corpus.posts
                          if p.brand == brand and corpus.reasons.get(p.post_id) not in (None, "Can't Tell"))
        stream, _ = inject_crisis(corpus, brand, reasons.most_common(1)[0][0], at, n=250, minutes=10)
        events, took = replay(stream)
        delay, f = _crisis_outcome(events, brand, at, REAL_EVENTS)
        delays.append(delay)
        false, seconds, posts = false + f, seconds + took, posts + len(stream)
    rows.append(_row("airline crisis 250/10min", delays, false, seeds, seconds, posts))

    false = posts = 0
    seconds = 0.0
    for seed in range(seeds):
        rng = random.Random(2000 + seed)
        at = dt.datetime(2015, 2, rng.randint(20, 23), rng.randint(9, 18), rng.randint(0, 59), tzinfo=UTC)
        original = rng.choice([p for p in corpus.posts if p.brand in BIG_AIRLINES and p.created_at < at])
        stream = retweet_flood(corpus, original, at, n=500, minutes=10)
        events, took = replay(stream)
        false += sum(1 for e in _starts(events) if e.brand == original.brand and at <= e.at <= at + dt.timedelta(hours=1))
        seconds, posts = seconds + took, posts + len(stream)
    rows.append(_row("airline retweet flood 500", None, false, seeds, seconds, posts))

    budget_us = 1e6 / worker_posts_per_s
    _, took = replay(corpus.posts)
    costs = [CostRow(stream="airline week (sparse)", posts=len(corpus.posts), us_per_post=1e6 * took / len(corpus.posts),
                     share_of_worker=1e6 * took / len(corpus.posts) / budget_us)]
    dense = _dense(corpus, worker_posts_per_s, minutes=10)
    _, took = replay(dense, batch=256)
    costs.append(CostRow(stream=f"dense, {worker_posts_per_s:.0f} posts/s", posts=len(dense), us_per_post=1e6 * took / len(dense),
                         share_of_worker=1e6 * took / len(dense) / budget_us))
    return rows, costs


def _dense(corpus: Corpus, rate: float, minutes: int) -> list[BrandPost]:
    """The corpus's posts (cycled, new ids and authors) at ``rate`` posts per second."""
    start = dt.datetime(2025, 3, 3, 12, tzinfo=UTC)
    n = int(rate * 60 * minutes)
    src = corpus.posts
    return [dataclasses.replace(src[i % len(src)], post_id=f"d{i}", author=f"a{i % 50_000}",
                                created_at=start + dt.timedelta(seconds=i / rate)) for i in range(n)]


def format_tables(rows: Sequence[Row], costs: Sequence[CostRow]) -> str:
    head = f"{'scenario':<44} {'detected':>9} {'median delay':>13} {'max delay':>10} {'false alarms':>13} {'µs/post':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        det = "-" if r.detected is None else f"{r.detected}/{r.runs}"
        med = "-" if r.median_delay_min is None else f"{r.median_delay_min:.0f} min"
        mx = "-" if r.max_delay_min is None else f"{r.max_delay_min:.0f} min"
        lines.append(f"{r.scenario:<44} {det:>9} {med:>13} {mx:>10} {r.false_alarms:>13} {r.us_per_post:>8.1f}")
    lines += ["", f"{'cost of brand analytics':<44} {'posts':>9} {'µs/post':>13} {'% of worker busy time':>24}"]
    for c in costs:
        lines.append(f"{c.stream:<44} {c.posts:>9,} {c.us_per_post:>13.1f} {c.share_of_worker:>23.1%}")
    return "\n".join(lines)


def spikes_command(
    data: Path = typer.Option(..., exists=True, dir_okay=False, help="The airline corpus CSV, e.g. ../shared/data/airline/tweets.csv"),
    seeds: int = typer.Option(10, min=1, help="Streams per scenario"),
    worker_posts_per_s: float = typer.Option(383.0, min=1.0, help="The worker's measured end-to-end throughput (posts/s)"),
) -> None:
    """Delay and false alarms of the brand spike detectors over seeds, and their per-post cost.

    The cost is shown as a share of the worker's busy time per post at --worker-posts-per-s
    (measure it with ``brandpulse bench pipeline``; docs/benchmarks.md has the measured rates).

    Example: brandpulse bench spikes --data ../shared/data/airline/tweets.csv --seeds 10
    """
    if seeds < 1:
        raise SystemExit("--seeds must be at least 1")
    rows, costs = run(data, seeds, worker_posts_per_s)
    print(format_tables(rows, costs))
