"""SlackNotifier against a real HTTP receiver on 127.0.0.1 that fails, hangs, then recovers."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import SecretStr

from streams.slack.notifier import SlackNotifier, alert_blocks, alert_text, redact_url
from streams.core.schemas import Alert

SECRET_PATH = "/services/T0SECRET/B0SECRET/xoxbTopSecretToken42"


class Receiver:
    """A fake Slack endpoint. ``script`` holds the behaviour of the next requests: an HTTP status
    code to answer with, or "hang" (sleep past the client's timeout, then answer 503); once the
    script is used up every request gets 200 "ok"."""

    def __init__(self, port: int = 0, script: list[int | str] | None = None) -> None:
        self.script = list(script or [])
        self.requests: list[int | str] = []
        self.delivered: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    action = receiver.script.pop(0) if receiver.script else 200
                    receiver.requests.append(action)
                    if action == 200 and self.path == SECRET_PATH:
                        receiver.delivered.append(json.loads(body))
                if action == "hang":
                    time.sleep(1.0)
                    action = 503
                try:
                    self.send_response(int(action))
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(b"ok" if action == 200 else b"invalid_payload" if action == 400 else b"oops")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on a hung request: exactly what a timeout is

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _alert(n: int = 1, brand: str | None = "acme") -> Alert:
    return Alert(
        alert_id=f"alert-{n}",
        kind="label_drift",
        detector="label_mix(chi2+js+psi)",
        statistic=0.143,
        threshold=0.1,
        brand=brand,
        window=500,
        model_version="brandpulse-sentiment/3",
        example_post_ids=["p1", "p2", "p<3>"],
        message="Predicted-label mix moved (negative 30%→52%).",
        since=dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.timezone.utc),
    )


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
            notifier.notify(_alert())
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
    assert "retrying alert alert-1" in logs and redact_url(rx.url) in logs
    assert SECRET_PATH not in logs and "xoxbTopSecretToken42" not in logs and rx.url not in logs


def test_connection_refused_until_the_endpoint_comes_up(all_logs: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}{SECRET_PATH}"

    async def scenario() -> SlackNotifier:
        notifier = _notifier(url)
        await notifier.start()
        notifier.notify(_alert(1))
        notifier.notify(_alert(2))
        await asyncio.sleep(0.6)  # several refused attempts
        with Receiver(port=port) as rx:
            assert await notifier.drain(10)
            await notifier.aclose()
            assert [p["text"] for p in rx.delivered] == [alert_text(_alert(1)), alert_text(_alert(2))]
        return notifier

    notifier = asyncio.run(scenario())
    assert notifier.delivered == 2
    assert "ClientConnectorError" in all_logs.text or "Connect" in all_logs.text
    assert "xoxbTopSecretToken42" not in all_logs.text


def test_client_errors_are_not_retried(all_logs: pytest.LogCaptureFixture) -> None:
    with Receiver(script=[400]) as rx:
        async def scenario() -> SlackNotifier:
            notifier = _notifier(rx.url)
            await notifier.start()
            notifier.notify(_alert())
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
            thread = threading.Thread(target=lambda: [notifier.notify(_alert(i)) for i in range(2)])
            thread.start()
            thread.join()
            await asyncio.sleep(0)
            assert await notifier.drain(5)
            for i in range(10, 20):  # burst while the sender is idle: queue keeps the newest 3 (+1 in flight)
                notifier.notify(_alert(i))
            assert await notifier.drain(5)
            await notifier.aclose()
            return notifier

        notifier = asyncio.run(scenario())
    ids = [p["blocks"][-1]["elements"][0]["text"].split("`")[1] for p in rx.delivered]
    assert ids[:2] == ["alert-0", "alert-1"]
    assert ids[-3:] == ["alert-17", "alert-18", "alert-19"] and notifier.dropped == 10 - (len(ids) - 2)


def test_without_url_prints_the_alert(capsys: pytest.CaptureFixture[str]) -> None:
    SlackNotifier(None).notify(_alert())
    out = capsys.readouterr().out
    assert "Label-distribution drift" in out and "brandpulse-sentiment/3" in out and "acme" in out


def test_bad_url_is_rejected_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="https://") as err:
        SlackNotifier(SecretStr("hooks.slack.com/services/T0/B0/supersecret"))
    assert "supersecret" not in str(err.value)
    assert "supersecret" not in repr(SlackNotifier(SecretStr("https://hooks.slack.com/services/T0/B0/supersecret")))


def test_block_kit_payload_has_what_how_much_since_samples_and_next_steps() -> None:
    blocks = alert_blocks(_alert())
    assert [b["type"] for b in blocks] == ["header", "section", "section", "section", "context", "context"]
    assert blocks[0]["text"]["text"].endswith("Label-distribution drift") and len(blocks[0]["text"]["text"]) <= 150
    assert "negative 30%→52%" in blocks[1]["text"]["text"]
    fields = " ".join(f["text"] for f in blocks[2]["fields"])
    for part in ("*Model version*", "brandpulse-sentiment/3", "*Scope*", "acme", "0.143", "threshold 0.1",
                 "*Window*", "500 posts", "*Since*", "<!date^1740830400^"):
        assert part in fields, part
    assert "`p1`" in blocks[3]["text"]["text"] and "`p&lt;3&gt;`" in blocks[3]["text"]["text"]
    assert "retrain" in blocks[4]["elements"][0]["text"].lower()
    assert "alert-1" in blocks[5]["elements"][0]["text"]
    json.dumps(blocks)  # serialisable as-is
    assert "all brands" in alert_blocks(_alert(brand=None))[2]["fields"][1]["text"]


def test_gives_up_at_the_deadline_and_keeps_sending_the_next_alert(all_logs: pytest.LogCaptureFixture) -> None:
    # 40 server errors outlast one send's retries (slack_sdk's handlers) and the 1 s give-up deadline.
    with Receiver(script=[500] * 40) as rx:
        async def scenario() -> SlackNotifier:
            notifier = SlackNotifier(
                SecretStr(rx.url), timeout_s=0.3, backoff_initial_s=0.02, backoff_max_s=0.05, give_up_after_s=1.0
            )
            await notifier.start()
            notifier.notify(_alert(1))
            assert await notifier.drain(10)
            rx.script.clear()  # Slack is back
            notifier.notify(_alert(2))
            assert await notifier.drain(10)
            await notifier.aclose()
            return notifier

        notifier = asyncio.run(scenario())
    assert notifier.failed == 1 and notifier.delivered == 1
    assert [p["text"] for p in rx.delivered] == [alert_text(_alert(2))]
    assert "Giving up on Slack alert alert-1" in all_logs.text and "xoxbTopSecretToken42" not in all_logs.text
