"""Brand alerts on the real airline corpus (16–24 Feb 2015): real events, an injected crisis, a retweet flood.

Pure logic, no broker: the detectors see the corpus in time order, labelled with its human
sentiment. The end-to-end path (worker → alerts table/topic → Slack) is in tests/test_brand_e2e.py.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from drift.brand.config import BrandWatchConfig, SpikeConfig
from drift.brand.monitor import BrandEvent, BrandMonitor
from drift.brand.post import BrandPost
from benchmarks.scenarios import Corpus, inject_crisis, load_airline, retweet_flood
from tests.support.data import AIRLINE_CSV

UTC = dt.timezone.utc
SPIKE_KINDS = {"brand_volume_spike", "brand_negative_spike", "brand_positive_surge"}

# Every incident the replay opens, checked by reading the posts (docs/monitoring.md "Brand alerts on real data" explains each).
REAL_EVENTS = {
    ("Southwest", "02-22 17"),  # Companion Pass promotion ("companion pass", "love")
    ("Delta", "02-23 10"),      # JetBlue (filed under Delta in the corpus): "Our fleet's on fleek" backlash
}


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    if not AIRLINE_CSV.exists():
        pytest.skip(f"shared test data not found at {AIRLINE_CSV}")
    return load_airline(AIRLINE_CSV)


def replay(posts: list[BrandPost], config: BrandWatchConfig | None = None, batch: int = 25) -> list[BrandEvent]:
    mon = BrandMonitor(config)
    events: list[BrandEvent] = []
    for i in range(0, len(posts), batch):
        events += mon.observe(posts[i:i + batch])
    return events


def starts(events: list[BrandEvent], brand: str | None = None) -> list[BrandEvent]:
    return [e for e in events if e.phase == "start" and (brand is None or e.brand == brand)]


def test_replay_raises_only_the_real_events_of_the_week(corpus: Corpus) -> None:
    events = replay(corpus.posts)
    found = {(e.brand, e.at.strftime("%m-%d %H")) for e in starts(events)}
    assert found == REAL_EVENTS
    # Nothing in the first days: the morning ramp-ups of 17–19 Feb are not spikes.
    assert all(e.at >= dt.datetime(2015, 2, 20, tzinfo=UTC) for e in events)
    # Every incident ends, and says so once.
    assert len([e for e in events if e.phase == "resolve"]) == len(REAL_EVENTS)
    fleek = next(e for e in starts(events, "Delta") if e.at.day == 23)
    assert "fleek" in fleek.why.headline()
    companion = next(e for e in starts(events, "Southwest") if e.at.day == 22)
    assert "companion pass" in [t.token for t in companion.why.terms]


def test_injected_crisis_raises_one_spike_naming_its_topic(corpus: Corpus) -> None:
    start = dt.datetime(2015, 2, 20, 14, 0, tzinfo=UTC)
    stream, injected = inject_crisis(corpus, "United", "Lost Luggage", start, n=250, minutes=10)
    events = replay(stream)
    during = [e for e in events if start <= e.at < start + dt.timedelta(hours=3)]
    spikes = [e for e in starts(during)]
    assert [e.brand for e in spikes] == ["United"] and spikes[0].kind in SPIKE_KINDS
    alert = spikes[0]
    assert alert.at - start <= dt.timedelta(minutes=3), alert.at
    top = [t.token for t in alert.why.terms[:5]]
    assert {"bag", "luggage", "lost luggage", "bags"} & set(top), top
    assert alert.why.examples and all(ex.post_id.startswith("crisis-") for ex in alert.why.examples)
    # Volume and negative share both fired, as one incident: one "still growing" message, one "resolved".
    united = [e for e in during if e.brand == "United"]
    assert [e.phase for e in united] == ["start", "escalate", "resolve"]
    assert {"brand_negative_spike", "brand_volume_spike"} <= set(united[-1].facets)
    # Outside the crisis the replay is the same as without it.
    assert {(e.brand, e.at.strftime("%m-%d %H")) for e in starts(events) if e not in spikes} == REAL_EVENTS


def test_a_retweet_flood_is_one_voice(corpus: Corpus) -> None:
    original = next(p for p in corpus.posts if p.brand == "United" and p.label == "negative" and p.created_at.day == 20)
    start = dt.datetime(2015, 2, 20, 14, 0, tzinfo=UTC)
    early = [p for p in corpus.posts if p.created_at < start + dt.timedelta(hours=2)]
    stream = retweet_flood(Corpus(early, {}), original, start, n=500, minutes=10)
    assert not [e for e in starts(replay(stream)) if e.at >= start]
    # Asked for raw volume, the same flood is a spike, explained as reposts of one post.
    raw = BrandWatchConfig(volume=SpikeConfig(count="raw"))
    flood = [e for e in starts(replay(stream, raw)) if e.at >= start]
    assert [(e.brand, e.kind) for e in flood] == [("United", "brand_volume_spike")]
    assert flood[0].why.repost_share > 0.9
    assert flood[0].why.examples[0].copies > 1 and flood[0].why.examples[0].reason == "most reposted"


def test_state_survives_a_restart_mid_replay(corpus: Corpus) -> None:
    cut = dt.datetime(2015, 2, 22, 12, tzinfo=UTC)
    before = [p for p in corpus.posts if p.created_at < cut]
    after = [p for p in corpus.posts if p.created_at >= cut]
    mon = BrandMonitor()
    for i in range(0, len(before), 50):
        mon.observe(before[i:i + 50])
    restored = BrandMonitor.from_state(json.loads(json.dumps(mon.to_state())))
    key = lambda es: [(e.brand, e.phase, e.kind, e.at) for e in es]  # noqa: E731
    a: list[BrandEvent] = []
    b: list[BrandEvent] = []
    for i in range(0, len(after), 50):
        a += mon.observe(after[i:i + 50])
        b += restored.observe(after[i:i + 50])
    assert key(a) == key(b) and len(a) >= 4


def test_late_posts_are_counted_and_left_out(corpus: Corpus) -> None:
    mon = BrandMonitor()
    mon.observe(corpus.posts[:2000])
    old = corpus.posts[0]
    assert mon.observe([old]) == [] and mon.late == 1


def test_a_flood_on_a_brand_without_history_still_pages(corpus: Corpus) -> None:
    # American's tweets only start on 22 Feb in this corpus: on the 20th it has no baseline at all.
    start = dt.datetime(2015, 2, 20, 12, 28, tzinfo=UTC)
    stream, _ = inject_crisis(corpus, "American", "Customer Service Issue", start, n=250, minutes=10)
    stream = [p for p in stream if p.created_at < start + dt.timedelta(hours=2)]
    american = [e for e in starts(replay(stream)) if e.brand == "American"]
    assert len(american) == 1 and american[0].at - start <= dt.timedelta(minutes=6)
    assert american[0].why is not None and american[0].why.examples
