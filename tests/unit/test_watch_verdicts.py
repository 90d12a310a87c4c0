"""The watcher judges labelled performance and the challenger from its verdict ledger, as a watch-only
process does: its store is the relay that reads nothing, and labels may come before their verdicts.
The served models are stand-ins carrying their version: the watcher reads nothing else of them here."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from drift.records import HumanLabel, ScoredPost
from streams.core.model_slots import Serving
from streams.core.settings import Settings
from streams.slack.notifier import SlackNotifier
from streams.worker.model_watch import Watcher
from streams.worker.relay_store import RelayStore

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def verdicts(n: int, champion: str, challenger: str) -> list[ScoredPost]:
    """Post i: the champion says negative, the challenger in shadow says what the label will be."""
    rows = []
    for i in range(n):
        truth = ("negative", "neutral", "positive")[i % 3]
        for version, role, label in (("m/1", "champion", champion), ("m/2", "shadow", challenger or truth)):
            rows.append(ScoredPost(post_id=f"p{i}", brand="acme", platform="x", text="t", created_at=NOW, ingested_at=NOW,
                                   label=label, probs={label: 1.0}, confidence=1.0, model_version=version,
                                   model_role=role))  # type: ignore[arg-type]
    return rows


def labels(n: int) -> list[HumanLabel]:
    return [HumanLabel(post_id=f"p{i}", label=("negative", "neutral", "positive")[i % 3], annotator="a") for i in range(n)]


def watcher(tmp: Path) -> Watcher:
    settings = Settings(data_dir=tmp, flyback_rate=1.0, label_budget_per_hour=0, auto_promote=False,
                        promotion_min_labels=30)

    async def send(topic: str, key: bytes | None, value: bytes) -> None:
        pass

    served = Serving(champion=SimpleNamespace(version="m/1"), challenger=SimpleNamespace(version="m/2"))  # type: ignore[arg-type]
    return Watcher(settings, RelayStore(), send, SlackNotifier(None), lambda: served)  # type: ignore[arg-type]


def judged(w: Watcher, first: str) -> Watcher:
    async def run() -> None:
        steps = [w.observe_verdicts(verdicts(30, "negative", "")), w.observe_labels(labels(30))]
        for step in steps if first == "verdicts" else steps[::-1]:
            await step

    asyncio.run(run())
    return w


def test_labels_after_their_verdicts_judge_the_challenger(tmp_path: Path) -> None:
    report = judged(watcher(tmp_path), "verdicts").shadow_report
    assert report is not None
    assert (report.n_labels, report.challenger_macro_f1, report.champion_negative_recall) == (30, 1.0, 1.0)


def test_labels_before_their_verdicts_judge_the_same(tmp_path: Path) -> None:
    early = judged(watcher(tmp_path / "a"), "labels").shadow_report
    late = judged(watcher(tmp_path / "b"), "verdicts").shadow_report
    assert early == late


def test_champion_pairs_reach_labelled_performance_once(tmp_path: Path) -> None:
    w = judged(watcher(tmp_path), "labels")
    asyncio.run(w.observe_labels(labels(30)))  # redelivered
    assert w.performance.snapshot("m/1").labels == 30


def test_the_ledger_survives_a_restart(tmp_path: Path) -> None:
    w = watcher(tmp_path)
    asyncio.run(w.observe_verdicts(verdicts(30, "negative", "")))
    w.save()
    restarted = watcher(tmp_path)
    asyncio.run(restarted.observe_labels(labels(30)))
    assert restarted.shadow_report is not None and restarted.shadow_report.n_labels == 30


def test_a_version_no_longer_served_loses_its_detector_and_health_state(tmp_path: Path) -> None:
    from drift.health import build_reference

    w = watcher(tmp_path)
    rng = np.random.default_rng(0)
    texts = [f"post number {i} about the {('flight', 'crew', 'seat')[i % 3]}" for i in range(60)]
    probs = rng.dirichlet(np.ones(3), size=60)
    names = ["negative", "neutral", "positive"]
    decided = [names[i] for i in probs.argmax(axis=1)]
    for version in ("m/0", "m/1", "m/2"):  # m/0: the champion before m/1, replaced
        w.monitor.set_reference(version, {"negative": 0.3, "neutral": 0.4, "positive": 0.3})
        w.health.set_reference(version, build_reference(texts, probs, decided, names))
    w.retire_versions({"m/1", "m/2"})
    assert (w.monitor.versions, w.health.versions) == ({"m/1", "m/2"}, {"m/1", "m/2"})
