"""The model watch's alerts in episodes, through the real watcher, chDB and a local Slack endpoint: an alert
opens a retrain and names it, the next kind joins it, repeats are suppressed, quiet data time resolves
each episode once (stored, published, sent), a replaced champion resolves its version's episodes, and
the episodes and the data's time survive a restart. The served model is a stand-in carrying its version:
loading a real one would add minutes and nothing the watcher reads."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import SecretStr

from drift.records import Alert, ScoredPost
from streams.core.model_slots import Serving
from streams.core.settings import Settings
from streams.slack.notifier import SlackNotifier
from streams.store.clickhouse import ClickHouseStore
from streams.worker.model_watch import Watcher
from streams.worker.pipeline import BatchResult
from tests.support.slack import Receiver

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.timezone.utc)


def alert(n: int, kind: str, minute: float, version: str = "m/1") -> Alert:
    return Alert(alert_id=f"a{n}", kind=kind, detector="d", statistic=-0.2, threshold=0.05,  # type: ignore[arg-type]
                 model_version=version, message=f"alert {n}", detected_at=T0 + dt.timedelta(minutes=minute))


def batch(minute: float, version: str = "m/1") -> BatchResult:
    at = T0 + dt.timedelta(minutes=minute)
    return BatchResult(scored=[ScoredPost(post_id=f"p{minute}", brand="acme", platform="x", text="hello", created_at=at,
                                          ingested_at=at, label="neutral", probs={"neutral": 0.9, "negative": 0.1},
                                          confidence=0.9, model_version=version)])


class Run:
    def __init__(self, tmp: Path, store: ClickHouseStore, slack_url: str | None = None) -> None:
        self.settings = Settings(data_dir=tmp, flyback_rate=0, label_budget_per_hour=0,
                                 alert_resolve_after_min=60, alert_cooldown_min=30)
        self.sent: dict[str, list[dict]] = {}
        self.champion = "m/1"
        self.notifier = SlackNotifier(SecretStr(slack_url) if slack_url else None, timeout_s=1, backoff_initial_s=0.05)
        self.watcher = Watcher(self.settings, store, self.send, self.notifier,  # type: ignore[arg-type]
                               lambda: Serving(champion=SimpleNamespace(version=self.champion)))  # type: ignore[arg-type]

    async def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.sent.setdefault(topic, []).append(json.loads(value))

    def published(self) -> list[tuple]:
        return [(a["kind"], a["retrain_id"], a["retrain_opened"], a["resolution"]) for a in self.sent.get("alerts", [])]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseStore]:
    s = ClickHouseStore(f"chdb://{tmp_path_factory.mktemp('episodes-ch')}")
    s.ensure_schema()
    yield s
    s.close()  # chDB opens one path per process: the next module opens its own


@pytest.fixture(scope="module")
def episode(tmp_path_factory: pytest.TempPathFactory, store: ClickHouseStore):  # type: ignore[no-untyped-def]
    """One model-health episode: input drift opens a retrain, confidence joins it, two repeats, then 3 h of data."""
    with Receiver() as slack:
        run = Run(tmp_path_factory.mktemp("episodes"), store, slack.url)

        async def scenario() -> None:
            await run.notifier.start()
            await run.watcher.raise_alerts([alert(1, "input_drift", 0)])
            await run.watcher.raise_alerts([alert(2, "confidence_drift", 5)])
            await run.watcher.raise_alerts([alert(3, "input_drift", 10), alert(4, "input_drift", 20)])
            await run.watcher.observe_batch(batch(180))
            assert await run.notifier.drain(10)
            await run.notifier.aclose()

        asyncio.run(scenario())
    return run, slack.delivered


def test_an_episode_publishes_its_first_alert_with_its_retrain_and_one_resolution(episode) -> None:  # type: ignore[no-untyped-def]
    run, _ = episode
    request = run.sent["retrain-requests"][0]["request_id"]
    assert run.published() == [
        ("input_drift", request, True, None), ("confidence_drift", request, False, None),
        ("input_drift", None, False, "quiet"), ("confidence_drift", None, False, "quiet")]


def test_one_retrain_is_requested_for_the_episode(episode) -> None:  # type: ignore[no-untyped-def]
    run, _ = episode
    assert [r["alert_id"] for r in run.sent["retrain-requests"]] == ["a1"]


def test_the_stored_alerts_keep_their_retrain_and_resolution(episode, store: ClickHouseStore) -> None:  # type: ignore[no-untyped-def]
    run, _ = episode
    stored = store.timeline_alerts(None, T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=1), 10)
    request = run.sent["retrain-requests"][0]["request_id"]
    rows = {(a.kind, a.retrain_id, a.retrain_opened, a.resolution, a.resolves) for a in stored
            if a.kind in ("input_drift", "confidence_drift")}  # the other tests store sentiment shifts
    assert rows == {("input_drift", request, True, None, None), ("confidence_drift", request, False, None, None),
                    ("input_drift", None, False, "quiet", "a1"), ("confidence_drift", None, False, "quiet", "a2")}


def test_slack_gets_the_two_alerts_and_their_two_resolutions(episode) -> None:  # type: ignore[no-untyped-def]
    _, delivered = episode
    assert [p["blocks"][0]["text"]["text"] for p in delivered] == [
        "🟠 Input drift", "🟠 Confidence drift", "✅ Input drift resolved", "✅ Confidence drift resolved"]


def test_a_promotion_resolves_the_old_champions_episodes(tmp_path: Path, store: ClickHouseStore) -> None:
    run = Run(tmp_path, store)

    async def scenario() -> None:
        await run.watcher.observe_batch(batch(0))
        await run.watcher.raise_alerts([alert(11, "sentiment_shift", 1)])
        run.champion = "m/2"
        await run.watcher.observe_batch(batch(2, "m/2"))

    asyncio.run(scenario())
    assert run.published() == [("sentiment_shift", None, False, None), ("sentiment_shift", None, False, "replaced")]


def test_a_restarted_watcher_keeps_its_episodes_and_the_datas_time(tmp_path: Path, store: ClickHouseStore) -> None:
    first = Run(tmp_path, store)
    asyncio.run(first.watcher.observe_batch(batch(0)))
    asyncio.run(first.watcher.raise_alerts([alert(21, "sentiment_shift", 0)]))
    first.watcher.save()
    second = Run(tmp_path, store)
    asyncio.run(second.watcher.raise_alerts([alert(22, "sentiment_shift", 30)]))
    assert (second.watcher.data_time, second.published(), second.watcher.episodes.suppressed) == (T0, [], 1)
