"""The real SlackNotifier against an HTTP receiver on 127.0.0.1 that fails, hangs, then recovers; every message
kind survives the round trip, and the worker's watcher sends the outcomes it reads off the alerts topic."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from drift.promotion import promotion_alert
from streams.core.settings import Settings
from streams.slack.messages import alert_message
from streams.slack.notifier import SlackNotifier, redact_url
from tests.support.net import free_port
from tests.support.slack import (
    HOSTILE,
    SECRET_PATH,
    T0,
    Receiver,
    every_message,
    model_alerts,
    outcome_alerts,
    sample_alert,
    violations,
)
from tests.support.waiting import wait_for_async


def _notifier(url: str) -> SlackNotifier:
    return SlackNotifier(SecretStr(url), timeout_s=0.3, backoff_initial_s=0.05, backoff_max_s=0.2, give_up_after_s=20)


async def _ticker(stop: asyncio.Event, gaps: list[float]) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.01)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


def test_delivered_once_after_500s_and_a_hang_without_blocking(
    all_logs: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with Receiver(script=[500, 500, "hang", 502]) as rx:
        async def scenario() -> tuple[float, list[float], SlackNotifier]:
            notifier = _notifier(rx.url)
            await notifier.start()
            stop, gaps = asyncio.Event(), []
            ticker = asyncio.create_task(_ticker(stop, gaps))
            t0 = time.perf_counter()
            notifier.notify(alert_message(sample_alert()))
            enqueue_s = time.perf_counter() - t0
            assert await notifier.drain(15)
            stop.set()
            await ticker
            await notifier.aclose()
            return enqueue_s, gaps, notifier

        enqueue_s, gaps, notifier = asyncio.run(scenario())
    assert rx.requests == [500, 500, "hang", 502, 200]
    assert len(rx.delivered) == 1 and notifier.delivered == 1 and notifier.failed == 0
    assert enqueue_s < 0.01  # notify only enqueues
    assert max(gaps) < 0.2  # the event loop kept running through retries and the hang
    payload = rx.delivered[0]
    assert "acme" in payload["text"] and "brandpulse-sentiment/3" in payload["text"]
    assert payload["blocks"][0]["type"] == "header"
    logs = all_logs.text + capsys.readouterr().out
    assert "retrying message alert-1" in logs and redact_url(rx.url) in logs
    assert SECRET_PATH not in logs and "xoxbTopSecretToken42" not in logs and rx.url not in logs


def test_connection_refused_until_the_endpoint_comes_up(all_logs: pytest.LogCaptureFixture) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}{SECRET_PATH}"

    async def scenario() -> SlackNotifier:
        notifier = _notifier(url)
        await notifier.start()
        notifier.notify(alert_message(sample_alert(1)))
        notifier.notify(alert_message(sample_alert(2)))
        await wait_for_async(lambda: "retrying message alert-1 (attempt 3)" in all_logs.text, 10, "two refused attempts")
        with Receiver(port=port) as rx:
            assert await notifier.drain(10)
            await notifier.aclose()
            assert [p["text"] for p in rx.delivered] == [alert_message(sample_alert(1)).text, alert_message(sample_alert(2)).text]
        return notifier

    notifier = asyncio.run(scenario())
    assert notifier.delivered == 2
    assert "failed (ClientConnectorError: Cannot connect to host 127.0.0.1:" in all_logs.text
    assert "xoxbTopSecretToken42" not in all_logs.text


def test_client_errors_are_not_retried(all_logs: pytest.LogCaptureFixture) -> None:
    with Receiver(script=[400]) as rx:
        async def scenario() -> SlackNotifier:
            notifier = _notifier(rx.url)
            await notifier.start()
            notifier.notify(alert_message(sample_alert()))
            assert await notifier.drain(5)
            await notifier.aclose()
            return notifier

        notifier = asyncio.run(scenario())
    assert rx.requests == [400] and notifier.failed == 1 and notifier.delivered == 0
    assert "HTTP 400" in all_logs.text and "xoxbTopSecretToken42" not in all_logs.text


def test_notify_from_another_thread_and_bounded_queue() -> None:
    with Receiver() as rx:
        async def scenario() -> SlackNotifier:
            notifier = SlackNotifier(SecretStr(rx.url), timeout_s=1, max_queue=3)
            await notifier.start()
            thread = threading.Thread(target=lambda: [notifier.notify(alert_message(sample_alert(i))) for i in range(2)])
            thread.start()
            thread.join()
            await asyncio.sleep(0)
            assert await notifier.drain(5)
            # A burst while the sender is idle: the loop does not switch tasks between these calls, so the
            # queue keeps the newest 3 and the sender has taken none of them yet.
            for i in range(10, 20):
                notifier.notify(alert_message(sample_alert(i)))
            assert await notifier.drain(5)
            await notifier.aclose()
            return notifier

        notifier = asyncio.run(scenario())
    ids = [_alert_id(p) for p in rx.delivered]
    assert ids == ["alert-0", "alert-1", "alert-17", "alert-18", "alert-19"] and notifier.dropped == 7


def _alert_id(payload: dict) -> str:
    return payload["blocks"][-1]["elements"][0]["text"].split("`")[1]


def test_gives_up_at_the_deadline_and_keeps_sending_the_next_alert(all_logs: pytest.LogCaptureFixture) -> None:
    # Server errors for alert-1 outlast one send's retries (slack_sdk's handlers) and the 1 s give-up deadline;
    # refused by id, not by a script, because the last try timed out on may reach the receiver after Slack is back.
    with Receiver(refuse=lambda payload: _alert_id(payload) == "alert-1") as rx:
        async def scenario() -> SlackNotifier:
            notifier = SlackNotifier(
                SecretStr(rx.url), timeout_s=0.3, backoff_initial_s=0.02, backoff_max_s=0.05, give_up_after_s=1.0
            )
            await notifier.start()
            notifier.notify(alert_message(sample_alert(1)))
            assert await notifier.drain(10)
            notifier.notify(alert_message(sample_alert(2)))
            assert await notifier.drain(10)
            await notifier.aclose()
            return notifier

        notifier = asyncio.run(scenario())
    assert notifier.failed == 1 and notifier.delivered == 1
    assert [p["text"] for p in rx.delivered] == [alert_message(sample_alert(2)).text]
    assert "Giving up on Slack message alert-1" in all_logs.text and "xoxbTopSecretToken42" not in all_logs.text


def test_every_kind_survives_a_round_trip_through_the_notifier() -> None:
    rendered = every_message(HOSTILE[0]) + every_message(HOSTILE[13])
    with Receiver() as rx:
        async def scenario() -> SlackNotifier:
            notifier = _notifier(rx.url)
            await notifier.start()
            for m in rendered:
                notifier.notify(m)
            assert await notifier.drain(30)
            await notifier.aclose()
            return notifier

        notifier = asyncio.run(scenario())
    assert notifier.delivered == len(rendered) and notifier.dropped == 0 and notifier.failed == 0
    assert rx.delivered == [m.payload() for m in rendered]
    assert [v for p in rx.delivered for v in violations(p)] == []


def test_the_worker_sends_retrain_outcomes_and_promotions_it_reads_off_the_alerts_topic(tmp_path: Path) -> None:
    from streams.worker.model_watch import Watcher

    records = [a.model_dump_json().encode() for a in outcome_alerts("<!channel> m/4")]
    stale = promotion_alert("m/1", None, "", None).model_copy(update={"detected_at": T0 - dt.timedelta(days=1)})
    others = [stale.model_dump_json().encode(), model_alerts("m/4")[0].model_dump_json().encode(), b"not json", b""]
    with Receiver() as rx:
        async def scenario() -> list[bool]:
            notifier = _notifier(rx.url)
            await notifier.start()
            watcher = Watcher(Settings(data_dir=tmp_path), None, None, notifier, lambda: None)  # type: ignore[arg-type]
            sent = [watcher.announce_outcome(r) for r in records + others]
            assert await notifier.drain(10)
            await notifier.aclose()
            return sent

        sent = asyncio.run(scenario())
    assert sent == [True] * len(records) + [False] * len(others)
    titles = [p["blocks"][0]["text"]["text"] for p in rx.delivered]
    assert titles == ["🧪 Challenger registered", "🚫 Retrained model rejected", "⏭️ Retrain skipped",
                      "💥 Retrain failed", "🚀 Model promoted", "🚀 Model promoted"]
    assert [v for p in rx.delivered for v in violations(p)] == []
