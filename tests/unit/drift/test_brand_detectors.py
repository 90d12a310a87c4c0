"""Brand detectors beyond the shared protocol test (tests/drift/test_detector_protocol.py): one
start per jump, then resolve and cool down; a fresh detector on a busy brand. Plus voices, log-odds
and Block Kit."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import numpy as np
import pytest

from drift.brand.base import Bucket, SpikeDetector
from drift.brand.config import BrandWatchConfig, VoiceConfig
from drift.brand.monitor import DETECTORS, BrandMonitor
from drift.brand.post import BrandPost
from drift.brand.terms import log_odds, tokenize
from drift.brand.voices import VoiceCounter, fingerprint, normalise
from streams.slack.messages import brand_message
from tests.support.drift import START, buckets

CONFIG = BrandWatchConfig()


def fresh(name: str) -> SpikeDetector:
    return DETECTORS[name].make(CONFIG)  # type: ignore[return-value]


JUMPS = {"volume": {"rate": 6.0}, "negative": {"rate": 2.0, "neg": 0.95, "pos": 0.02}, "positive": {"rate": 2.0, "neg": 0.1, "pos": 0.8}}


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_fires_once_on_a_jump_then_resolves_and_cools_down(name: str) -> None:
    det = fresh(name)
    jump_at = 3 * 1440 + 14 * 60 - (START % 1440)  # 14:00 on day 4: the hour-of-day profile exists
    stream = buckets(2, jump_at + 600, rate=2.0, jump_at=jump_at, jump=JUMPS[name], jump_len=120)
    signals = [s for b in stream if (s := det.update(b)) is not None]
    phases = [s.phase for s in signals]
    assert phases[0] == "start" and phases.count("start") == 1 and phases[-1] == "resolve", phases
    assert signals[0].kind == det.kind
    assert 0 <= signals[0].minute - stream[jump_at].minute <= 15


def test_retweets_links_and_case_share_one_fingerprint() -> None:
    text = "@united lost my bag AGAIN!! https://t.co/abc"
    assert fingerprint(text) == fingerprint("RT @someone: @United lost my bag again https://t.co/xyz")
    assert normalise(text) == "united lost my bag again"
    vc = VoiceCounter(VoiceConfig(dedupe_min=60, author_cap=2))
    assert vc.observe(fingerprint(text), "a", 0) is True
    assert vc.observe(fingerprint(text), "b", 5) is False  # a copy
    assert vc.observe(fingerprint(text), "b", 70) is True  # last heard at minute 5, over an hour ago: a voice again
    assert [vc.observe(fingerprint(f"post {i}"), "loud", 80) for i in range(4)] == [True, True, False, False]


def test_log_odds_prefers_what_is_new_over_what_is_common() -> None:
    baseline = Counter({"flight": 500, "delayed": 80, "bag": 5, "thanks": 120})
    window = Counter({"flight": 40, "bag": 30, "delayed": 6, "thanks": 9, "gate": 1})
    ranked = log_odds(window, baseline)
    assert ranked[0].token == "bag" and ranked[0].z > 5
    assert next(d for d in ranked if d.token == "gate").z < 2  # one mention is not a topic
    assert tokenize("@united Lost my bag at #ORD, lost bag again http://x.co").terms[:3] == ("lost", "bag", "lost bag")


def test_block_kit_message_is_phone_readable() -> None:
    mon = BrandMonitor()
    t0 = dt.datetime(2025, 3, 3, tzinfo=dt.timezone.utc)
    rng = np.random.default_rng(0)
    posts = [BrandPost(f"p{i}", "United", f"@united flight {i} was fine thanks {rng.integers(1e9)}", t0 + dt.timedelta(minutes=2 * i),
                       "neutral", 0.8) for i in range(800)]
    crisis_at = posts[-1].created_at
    posts += [BrandPost(f"c{i}", "United", f"@united lost my bag <again> #{i % 3}lostbag & nobody answers {i}",
                        crisis_at + dt.timedelta(seconds=3 * i), "negative", 0.97) for i in range(200)]
    posts.append(BrandPost("end", "United", "@united ok", crisis_at + dt.timedelta(minutes=15), "neutral", 0.5))
    events = [e for e in mon.observe(posts) if e.phase == "start"]
    assert len(events) == 1
    message = brand_message(events[0])
    blocks = message.payload()["blocks"]
    text = json.dumps(blocks)
    assert blocks[0]["type"] == "header" and "United" in blocks[0]["text"]["text"]
    assert "fields" not in text  # one column: no side-by-side fields on a phone
    assert "&lt;again&gt;" in text and "<again>" not in text  # post text cannot inject Slack markup
    assert "no retrain" in text and "lost bag" in text
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks)
    assert message.text.startswith("[brandpulse] ")


def test_a_flood_of_distinct_texts_cannot_exhaust_memory() -> None:
    vc = VoiceCounter(VoiceConfig(max_texts=1_000))
    assert all(vc.observe(fingerprint(f"spam {i}"), None, i // 100) for i in range(10_000))
    assert len(vc.texts) <= 1_001
    restored = VoiceCounter.from_state(json.loads(json.dumps(vc.to_state())), vc.config)
    assert restored.texts == vc.texts


def test_state_of_another_version_is_refused() -> None:
    state = BrandMonitor().to_state()
    with pytest.raises(ValueError, match="version"):
        BrandMonitor.from_state({**state, "version": 0})


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_a_fresh_detector_on_a_busy_brand_stays_quiet(name: str) -> None:
    det = fresh(name)  # a new worker: the brand's steady 12 posts a minute are its first minutes
    stream = [Bucket(START + i, raw=12, voices=12, negative=7, positive=2, negative_raw=7, positive_raw=2) for i in range(600)]
    assert [s for b in stream if (s := det.update(b)) is not None] == []
