"""The verdict ledger: the random sample's verdicts joined with human labels, on hand-checked inputs."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from drift.labels.verdicts import ChampionPair, LedgerConfig, VerdictLedger
from drift.records import HumanLabel, ScoredPost

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def verdict(post_id: str, label: str, version: str = "m/1", role: str = "champion") -> ScoredPost:
    return ScoredPost(post_id=post_id, brand="acme", platform="x", text="t", created_at=NOW, ingested_at=NOW, label=label,
                      probs={label: 1.0}, confidence=1.0, model_version=version, model_role=role)  # type: ignore[arg-type]


def human(post_id: str, label: str) -> HumanLabel:
    return HumanLabel(post_id=post_id, label=label, annotator="a")


def test_a_label_after_its_verdict_gives_the_champion_pair() -> None:
    ledger = VerdictLedger()
    assert ledger.add_verdicts([verdict("p1", "negative"), verdict("p1", "positive", "m/2", "shadow")]) == []
    assert ledger.add_labels([human("p1", "negative")]) == [ChampionPair("p1", "m/1", "negative", "negative")]


def test_a_label_before_its_verdict_gives_the_same_pair_when_the_verdict_comes() -> None:
    ledger = VerdictLedger()
    assert ledger.add_labels([human("p1", "neutral")]) == []
    assert ledger.add_verdicts([verdict("p1", "negative")]) == [ChampionPair("p1", "m/1", "negative", "neutral")]


def test_redelivered_verdicts_and_labels_count_once() -> None:
    ledger = VerdictLedger()
    ledger.add_verdicts([verdict("p1", "negative")])
    ledger.add_labels([human("p1", "negative")])
    assert ledger.add_verdicts([verdict("p1", "negative")]) + ledger.add_labels([human("p1", "negative")]) == []


def test_unscored_rows_are_not_verdicts() -> None:
    ledger = VerdictLedger()
    ledger.add_verdicts([verdict("p1", "", role="unscored")])
    assert len(ledger) == 0


def test_shadow_rows_pair_the_challenger_with_the_champion_and_the_labels() -> None:
    ledger = VerdictLedger()
    ledger.add_verdicts([verdict("p1", "negative"), verdict("p1", "positive", "m/2", "shadow"),
                         verdict("p2", "neutral"), verdict("p2", "neutral", "m/2", "shadow"),
                         verdict("p3", "negative"),  # not shadowed: says nothing about the pair
                         verdict("p4", "negative", "m/0"), verdict("p4", "negative", "m/2", "shadow")])
    ledger.add_labels([human("p2", "neutral"), human("p3", "negative"), human("p5", "positive")])
    rows = ledger.shadow_rows("m/1", "m/2")
    assert [tuple(v) for v in rows.champion] == [("p1", "negative", "m/1"), ("p2", "neutral", "m/1")]
    assert [tuple(v) for v in rows.challenger] == [("p1", "positive", "m/2"), ("p4", "negative", "m/2"),
                                                  ("p2", "neutral", "m/2")]
    assert [(h.post_id, h.label) for h in rows.human] == [("p2", "neutral")]


def test_waiting_entries_beyond_the_cap_are_evicted_oldest_first() -> None:
    ledger = VerdictLedger(LedgerConfig(max_pending=2))
    ledger.add_verdicts([verdict("p1", "negative"), verdict("p2", "neutral"), verdict("p3", "positive")])
    assert ledger.add_labels([human("p1", "negative")]) == []  # p1's verdict was evicted: the label now waits
    assert ledger.add_labels([human("p3", "positive")]) == [ChampionPair("p3", "m/1", "positive", "positive")]
    assert ledger.shadow_rows("m/1", "m/2").champion == [] and len(ledger) == 2  # p3 joined, p1's label waits


def test_joined_entries_beyond_the_cap_are_evicted_oldest_first() -> None:
    ledger = VerdictLedger(LedgerConfig(max_joined=1))
    ledger.add_verdicts([verdict(p, "negative", "m/2", "shadow") for p in ("p1", "p2")])
    ledger.add_labels([human("p1", "negative"), human("p2", "positive")])
    assert [h.post_id for h in ledger.shadow_rows("m/1", "m/2").human] == ["p2"]


def test_retain_forgets_the_joined_verdicts_of_versions_no_longer_served() -> None:
    ledger = VerdictLedger()
    ledger.add_verdicts([verdict("p1", "negative", "m/1"), verdict("p1", "negative", "m/2", "shadow"),
                         verdict("p2", "neutral", "m/1")])
    ledger.add_labels([human("p1", "negative"), human("p2", "neutral")])
    assert ledger.retain({"m/2"}) == 1  # p2 had only m/1's verdict
    assert (ledger.n_joined, [tuple(v) for v in ledger.shadow_rows("m/1", "m/2").champion]) == (1, [])


def test_state_round_trips_through_json_with_its_order_and_counted_pairs() -> None:
    ledger = VerdictLedger(LedgerConfig(max_pending=3))
    ledger.add_verdicts([verdict("p1", "negative"), verdict("p1", "neutral", "m/2", "shadow"), verdict("p2", "neutral")])
    ledger.add_labels([human("p1", "neutral"), human("p9", "positive")])
    restored = VerdictLedger.from_state(json.loads(json.dumps(ledger.to_state())), LedgerConfig(max_pending=3))
    assert restored.to_state() == ledger.to_state()
    assert restored.add_labels([human("p1", "neutral")]) == []  # already counted before the save
    assert restored.add_verdicts([verdict("p9", "positive")]) == [ChampionPair("p9", "m/1", "positive", "positive")]


def test_a_lower_cap_on_restore_keeps_the_newest() -> None:
    ledger = VerdictLedger()
    ledger.add_verdicts([verdict(p, "negative") for p in ("p1", "p2", "p3")])
    restored = VerdictLedger.from_state(ledger.to_state(), LedgerConfig(max_pending=1))
    assert [row[0] for row in restored.to_state()["pending"]] == ["p3"]


def test_state_of_another_version_is_refused() -> None:
    with pytest.raises(ValueError, match="state version"):
        VerdictLedger.from_state({"state_version": 0})
