from __future__ import annotations

import json
from pathlib import Path

import pytest

from drift.detectors.monitor import DriftMonitor, MonitorConfig
from streams.core.schemas import Alert, ScoredPost
from tests.support.drift import LABELS, T0, confidences, labels_with_jump, scored

REF = dict(zip(LABELS, (0.3, 0.4, 0.3)))


def _stream(n: int, change: int, brands: list[str], seed: int = 0) -> list[ScoredPost]:
    """Posts round-robin over brands; from ``change`` on, brand[0] turns negative and less confident."""
    calm_labels = labels_with_jump(seed, n, n, (0.3, 0.4, 0.3), 0.0)
    hot_labels = labels_with_jump(seed + 1, n, 0, (0.3, 0.4, 0.3), 0.3)
    calm_conf = confidences(seed, n)
    hot_conf = confidences(seed + 2, n, change=0)
    posts = []
    for i in range(n):
        brand = brands[i % len(brands)]
        hot = i >= change and brand == brands[0]
        posts.append(
            scored(i, hot_labels[i] if hot else calm_labels[i], float(hot_conf[i] if hot else calm_conf[i]), brand=brand)
        )
    return posts


def _feed(monitor: DriftMonitor, posts: list[ScoredPost], batch: int = 128) -> list[Alert]:
    alerts: list[Alert] = []
    for start in range(0, len(posts), batch):
        alerts += monitor.observe(posts[start : start + batch])
    return alerts


def test_one_brand_drifting_raises_brand_and_global_alerts_with_context() -> None:
    posts = _stream(12_000, 6_000, ["acme", "globex", "initech"])
    monitor = DriftMonitor(MonitorConfig(min_brand_posts=1_000), references={"m/1": REF})
    before = _feed(monitor, posts[:6_000])
    after = _feed(monitor, posts[6_000:])
    assert before == []
    # acme's shift and confidence drop; a third of all traffic turning negative shows globally; nothing for
    # globex or initech; one alert per (kind, scope): no storm.
    assert sorted((a.kind, a.brand or "all") for a in after) == [
        ("confidence_drift", "acme"), ("sentiment_shift", "acme"), ("sentiment_shift", "all"),
    ]
    by_id = {p.post_id: p for p in posts}
    for a in after:
        assert a.model_version == "m/1" and a.alert_id and a.message
        assert 1 <= len(a.example_post_ids) <= 5
        assert a.since is not None and a.since >= T0
        if a.brand == "acme":
            assert all(by_id[pid].brand == "acme" for pid in a.example_post_ids)
            # change point estimated within ~100 of acme's posts (300 overall) of the switch
            assert posts[6_000 - 300].created_at <= a.since <= posts[6_000 + 300].created_at
    label_alert = next(a for a in after if a.kind == "sentiment_shift" and a.brand == "acme")
    assert label_alert.statistic >= label_alert.threshold == 0.1
    assert all(by_id[pid].label == "negative" for pid in label_alert.example_post_ids)
    conf_alert = next(a for a in after if a.kind == "confidence_drift" and a.brand == "acme")
    assert conf_alert.statistic < -0.03


def test_small_brands_get_no_track_and_versions_are_separate() -> None:
    monitor = DriftMonitor(MonitorConfig(min_brand_posts=50))
    batch = [scored(i, "neutral", 0.9, brand="big" if i % 10 else "tiny", version="m/1") for i in range(200)]
    batch += [scored(1000 + i, "neutral", 0.9, brand="big", version="m/2") for i in range(60)]
    monitor.observe(batch)
    assert set(monitor.keys) == {("m/1", None), ("m/1", "big"), ("m/2", None), ("m/2", "big")}
    monitor.drop_version("m/1")
    assert set(monitor.keys) == {("m/2", None), ("m/2", "big")}


def test_save_load_mid_stream_continues_identically(tmp_path: Path) -> None:
    posts = _stream(9_000, 5_000, ["acme", "globex"], seed=4)
    path = tmp_path / "state" / "drift.json"
    live = DriftMonitor(MonitorConfig(min_brand_posts=500), references={"m/1": REF})
    _feed(live, posts[:4_000])
    live.save(path)
    assert json.loads(path.read_text())["state_version"] == 1
    assert [p.name for p in path.parent.iterdir()] == ["drift.json"]  # no temp files left behind
    restored = DriftMonitor.load(path)
    strip = lambda alerts: [a.model_dump(exclude={"alert_id", "detected_at"}) for a in alerts]  # noqa: E731
    a = strip(_feed(live, posts[4_000:]))
    b = strip(_feed(restored, posts[4_000:]))
    assert a == b and a


def test_load_errors_are_actionable(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="load_or_create"):
        DriftMonitor.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="delete it"):
        DriftMonitor.load(bad)
    fresh = DriftMonitor.load_or_create(tmp_path / "missing.json", references={"m/9": REF})
    assert fresh.keys == []
    with pytest.raises(ValueError, match="empty"):
        fresh.set_reference("m/9", {})


def test_observe_is_fast_enough_for_inline_use() -> None:
    import time

    posts = _stream(5_000, 5_000, ["a", "b", "c", "d"])
    monitor = DriftMonitor(MonitorConfig(min_brand_posts=200), references={"m/1": REF})
    start = time.perf_counter()
    _feed(monitor, posts, batch=256)
    per_post_us = (time.perf_counter() - start) / len(posts) * 1e6
    assert per_post_us < 500, per_post_us  # ~45 µs on the 2-core dev box; far below scoring cost
