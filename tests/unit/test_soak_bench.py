"""The soak bench's pure parts: its posts and the row it reports for a cycle."""

from __future__ import annotations

import datetime as dt

from benchmarks.soak import CycleResult, Segment, SoakConfig, SoakResult, as_posts, table_rows

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def test_a_segment_without_a_brand_in_its_text_streams_with_its_brand_and_keeps_its_gold_labels() -> None:
    segment = Segment(name="movies", source="sst2", brand="Cinema", texts=["a fine film", "dull"],
                      labels=["positive", "negative"], heldout_texts=[], heldout_labels=[])
    posts, gold = as_posts(segment, T0, dt.timedelta(seconds=2))
    assert [(p["brand"], p["created_at"], gold[p["post_id"]]) for p in posts] == [
        ("Cinema", T0, "positive"), ("Cinema", T0 + dt.timedelta(seconds=2), "negative")
    ]


def test_a_promoted_cycle_reports_its_gain_interval_and_general_loss() -> None:
    cycle = CycleResult(segment="airline", source="airline", posts=100, champion_before="m/v1", champion_after="m/v2",
                        detection_delay=120, retrain_status="registered", challenger="m/v2", labels_used=300,
                        champion_f1=0.6, challenger_f1=0.7, gain_interval=(0.05, 0.15), promoted=True,
                        general_champion_f1=0.7, general_challenger_f1=0.69, alerts={"input_drift": 1})
    row = table_rows(SoakResult(config=SoakConfig(), machine="m", cycles=[cycle], samples=[], aliases={}, seconds=1))[0]
    assert (row["delay"], row["gain [90% CI]"], row["promoted"], row["general Δ"]) == (
        "120", "+0.100 [+0.050, +0.150]", "yes", "-0.010"
    )


def test_the_table_shows_the_workers_own_rss_apart_from_its_children() -> None:
    cycle = CycleResult(segment="launch", source="amazon", posts=100, champion_before="m/v1", champion_after="m/v1",
                        rss_mb_end=2710.4, own_rss_mb_end=1248.1)
    row = table_rows(SoakResult(config=SoakConfig(), machine="m", cycles=[cycle], samples=[], aliases={}, seconds=1))[0]
    assert (row["RSS MB"], row["+children"]) == ("1248", "2710")


def test_a_cycles_alerts_fit_one_short_cell() -> None:
    cycle = CycleResult(segment="movies", source="sst2", posts=100, champion_before="m/v1", champion_after="m/v2",
                        alerts={"input_drift": 1, "estimated_performance": 1, "sentiment_shift": 1, "retrain": 1,
                                "promotion": 1, "input_drift resolved": 1, "sentiment_shift resolved": 1})
    row = table_rows(SoakResult(config=SoakConfig(), machine="m", cycles=[cycle], samples=[], aliases={}, seconds=1))[0]
    assert row["alerts"] == "model 2 · brand 1 · loop 2 · resolved 2 · ≤ 1/kind"
