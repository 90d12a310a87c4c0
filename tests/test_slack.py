"""Slack: every message kind rendered from hostile input stays inert and within Slack's limits, and
the real SlackNotifier delivers it to an HTTP receiver on 127.0.0.1 that fails, hangs, then recovers."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import logging
import re
import socket
import threading
import time
import typing
import unicodedata
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import SecretStr
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from drift.brand.base import SpikeSignal
from drift.brand.monitor import BrandEvent
from drift.brand.why import Example, Term, Why
from drift.promotion import promotion_alert
from drift.records import AlertKind, RetrainStatus
from drift.retraining.job import RetrainOutcome
from streams.core.schemas import Alert
from streams.core.settings import Settings
from streams.slack import messages
from streams.slack.messages import SlackMessage, alert_message, brand_message, digest_messages
from streams.slack.notifier import SlackNotifier, redact_url
from streams.slack.text import clean

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
            notifier.notify(alert_message(_alert()))
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
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}{SECRET_PATH}"

    async def scenario() -> SlackNotifier:
        notifier = _notifier(url)
        await notifier.start()
        notifier.notify(alert_message(_alert(1)))
        notifier.notify(alert_message(_alert(2)))
        await asyncio.sleep(0.6)  # several refused attempts
        with Receiver(port=port) as rx:
            assert await notifier.drain(10)
            await notifier.aclose()
            assert [p["text"] for p in rx.delivered] == [alert_message(_alert(1)).text, alert_message(_alert(2)).text]
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
            notifier.notify(alert_message(_alert()))
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
            thread = threading.Thread(target=lambda: [notifier.notify(alert_message(_alert(i))) for i in range(2)])
            thread.start()
            thread.join()
            await asyncio.sleep(0)
            assert await notifier.drain(5)
            for i in range(10, 20):  # burst while the sender is idle: queue keeps the newest 3 (+1 in flight)
                notifier.notify(alert_message(_alert(i)))
            assert await notifier.drain(5)
            await notifier.aclose()
            return notifier

        notifier = asyncio.run(scenario())
    ids = [p["blocks"][-1]["elements"][0]["text"].split("`")[1] for p in rx.delivered]
    assert ids[:2] == ["alert-0", "alert-1"]
    assert ids[-3:] == ["alert-17", "alert-18", "alert-19"] and notifier.dropped == 10 - (len(ids) - 2)


def test_without_url_prints_the_alert(capsys: pytest.CaptureFixture[str]) -> None:
    SlackNotifier(None).notify(alert_message(_alert()))
    out = capsys.readouterr().out
    assert "Label-distribution drift" in out and "brandpulse-sentiment/3" in out and "acme" in out


def test_bad_url_is_rejected_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="https://") as err:
        SlackNotifier(SecretStr("hooks.slack.com/services/T0/B0/supersecret"))
    assert "supersecret" not in str(err.value)
    assert "supersecret" not in repr(SlackNotifier(SecretStr("https://hooks.slack.com/services/T0/B0/supersecret")))


def test_block_kit_payload_has_what_how_much_since_samples_and_next_steps() -> None:
    blocks = alert_message(_alert()).payload()["blocks"]
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
    assert "all brands" in alert_message(_alert(brand=None)).payload()["blocks"][2]["fields"][1]["text"]


def test_gives_up_at_the_deadline_and_keeps_sending_the_next_alert(all_logs: pytest.LogCaptureFixture) -> None:
    # 40 server errors outlast one send's retries (slack_sdk's handlers) and the 1 s give-up deadline.
    with Receiver(script=[500] * 40) as rx:
        async def scenario() -> SlackNotifier:
            notifier = SlackNotifier(
                SecretStr(rx.url), timeout_s=0.3, backoff_initial_s=0.02, backoff_max_s=0.05, give_up_after_s=1.0
            )
            await notifier.start()
            notifier.notify(alert_message(_alert(1)))
            assert await notifier.drain(10)
            rx.script.clear()  # Slack is back
            notifier.notify(alert_message(_alert(2)))
            assert await notifier.drain(10)
            await notifier.aclose()
            return notifier

        notifier = asyncio.run(scenario())
    assert notifier.failed == 1 and notifier.delivered == 1
    assert [p["text"] for p in rx.delivered] == [alert_message(_alert(2)).text]
    assert "Giving up on Slack message alert-1" in all_logs.text and "xoxbTopSecretToken42" not in all_logs.text


# ------------------------------------------------------------------ every kind, hostile input

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HOSTILE = [
    "<!channel> <!here> <!everyone> <@U123> <#C0123|general> <!subteam^S1|team> <https://evil.example/x|click here>",
    "@channel @here #general https://evil.example/x?a=1&b=2 mailto:x@y.z",
    "&amp; &lt;already&gt; & < > &#60; &",
    "*bold* _italic_ ~strike~ `code` ```block``` > quote\n> quote\n• list",
    "".join(map(chr, range(32))) + "\x7f\x85\u2028\u2029",  # every C0 control, DEL, NEL, line/paragraph separators
    "Uni\u200bted \u200c\u200d\u2060\ufeff \u202eevil\u202c \u2066x\u2069 \u00ad \U000e0041\U000e0042 \u3164\u2800\u115f",
    "e" + "\u0301" * 200,  # stacked combining marks
    "&" * 10_000, "<" * 10_000, "\u200b" * 10_000, "x" * 10_000, "🙂" * 10_000, "👩\u200d💻" * 3_000,
    "a&<>*_~`" * 1_250,
    "p<1e-300",
    "",
]
DATE_TOKEN = re.compile(r"<!date\^\d+\^\{[a-z_]+\}(?: \{time\})?\|[0-9T:+-]+>")  # our own, the only markup allowed
LOOSE_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")
HIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def model_alerts(h: str) -> list[Alert]:
    kinds = [k for k in typing.get_args(AlertKind) if k not in ("retrain", "promotion")]
    return [Alert(alert_id=h or "a", kind=k, detector=h, statistic=0.5, threshold=0.1, brand=h, window=500,
                  model_version=h, example_post_ids=[f"{i}{h}" for i in range(60)], message=h, since=T0, detected_at=T0)
            for k in kinds]


def outcome_alerts(h: str) -> list[Alert]:
    retrains = [RetrainOutcome(request_id="r", requested_for=h, status=status, message=h, version=h or None).alert()
                for status in typing.get_args(RetrainStatus)]
    return [*retrains, promotion_alert(h or "m/2", h, h, None),
            Alert(alert_id=h, kind="promotion", detector="shadow_comparison", statistic=0.8, threshold=0.7,
                  window=300, model_version=h, message=h)]


def brand_event(h: str, n: int = 0, phase: str = "start", kind: str = "brand_negative_spike") -> BrandEvent:
    signal = SpikeSignal(detector=h or "d", kind=kind, phase=phase, minute=0, window_min=10, observed=40, expected=4,
                         p_value=0.0, baseline="trailing", started_minute=0)
    terms = [Term(token=h, z=3.0, window=5, baseline=1) for _ in range(20)]
    why = Why(brand=h, start=T0, end=T0, posts=1_000, voices=800, authors=700, repost_share=0.2, reach=50,
              sentiment={"negative": 0.7}, baseline_posts=5_000, baseline_sentiment={}, terms=terms, hashtags=terms,
              handles=terms, examples=[Example(post_id=h, text=h, label=h, confidence=0.9, copies=3, reposts=2, reason=h)
                                      for _ in range(60)])
    return BrandEvent(event_id=f"e{n}{h}", brand=h, phase=phase, kind=kind, signals=[signal], facets=[kind],
                      started_at=T0, at=T0 + dt.timedelta(minutes=n), why=why, message=f"event-{n:03d} {h} p<1e-300")


def every_message(h: str) -> list[SlackMessage]:
    events = [brand_event(h, i, phase, kind) for i, (phase, kind) in enumerate(itertools.product(
        ["start", "escalate", "resolve"], ["brand_volume_spike", "brand_negative_spike", "brand_positive_surge"]))]
    return ([alert_message(a) for a in model_alerts(h) + outcome_alerts(h)]
            + [brand_message(e) for e in events] + digest_messages(h, [brand_event(h, i) for i in range(60)]))


def texts(payload: dict) -> Iterator[tuple[str, str]]:
    """(where, text) of every string Slack renders: the fallback and each text object."""
    yield "text", payload["text"]
    for b in payload["blocks"]:
        for obj in [b.get("text")] + b.get("fields", []) + b.get("elements", []):
            if obj:
                yield f"{b['type']}.{obj['type']}", obj["text"]


def violations(payload: dict) -> list[str]:
    """Everything in a webhook payload that breaks Slack's limits or lets input act as markup."""
    found = []
    blocks = payload["blocks"]
    if len(payload["text"]) > messages.TEXT_MAX or len(payload["text"]) > messages.FALLBACK_MAX:
        found.append(f"text of {len(payload['text'])} characters")
    if not 0 < len(blocks) <= messages.BLOCKS_MAX:
        found.append(f"{len(blocks)} blocks")
    for b in blocks:
        try:
            Block.parse(b).validate_json()  # type: ignore[union-attr]
        except SlackObjectFormationError as exc:
            found.append(f"{b['type']}: {exc}")
        if b["type"] == "header" and len(b["text"]["text"]) > messages.HEADER_MAX:
            found.append(f"header of {len(b['text']['text'])}")
        if b["type"] == "section" and len(b.get("text", {}).get("text", "")) > messages.SECTION_MAX:
            found.append(f"section of {len(b['text']['text'])}")
        if len(b.get("fields", [])) > 10 or any(len(f["text"]) > messages.FIELD_MAX for f in b.get("fields", [])):
            found.append("fields over their limits")
        if b["type"] == "context" and (len(b["elements"]) > messages.CONTEXT_MAX
                                       or any(len(e["text"]) > messages.SECTION_MAX for e in b["elements"])):
            found.append("context over its limits")
    for where, text in texts(payload):
        bare = re.sub(r"(?m)^>", "", DATE_TOKEN.sub("", text))  # a > opening a line is our quote
        if "<" in bare or ">" in bare:
            found.append(f"{where}: raw < or > (a mention or link could fire): {bare[:80]!r}")
        if LOOSE_ENTITY.search(text):
            found.append(f"{where}: & not part of &amp;/&lt;/&gt; (a split entity?)")
        if "\\u" in text:
            found.append(f"{where}: repr()-expanded characters")
        hidden = [c for c in text if unicodedata.category(c) in HIDDEN_CATEGORIES and c not in "\n\u200d"]
        if hidden or (where == "text" and "\n" in text):
            found.append(f"{where}: hidden or control characters {[hex(ord(c)) for c in hidden[:5]]}")
        if "\u200d" in text and not re.fullmatch(r"(?:[^\u200d]|(?<=[\U0001F000-\U0001FFFF])\u200d(?=[\U0001F000-\U0001FFFF]))*", text):
            found.append(f"{where}: a zero-width joiner outside an emoji")
        if where != "header.plain_text":
            for line in text.split("\n"):
                if line.count("`") % 2:
                    found.append(f"{where}: open code span in {line[:80]!r}")
                outside_code = re.sub(r"`[^`]*`", "", line)
                for mark in "*_~":  # marks that can open formatting: not between two letters or digits
                    if len(re.findall(rf"(?<![^\W_]){re.escape(mark)}|{re.escape(mark)}(?![^\W_])", outside_code)) % 2:
                        found.append(f"{where}: unpaired {mark} in {line[:80]!r}")
    return found


@pytest.mark.parametrize("h", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def test_every_kind_with_hostile_input_is_inert_and_within_slacks_limits(h: str) -> None:
    rendered = every_message(h)
    assert len(rendered) == 29  # 11 alert kinds, 4 retrain outcomes, 2 promotions, 9 brand events, 3 digest parts
    assert [v for m in rendered for v in violations(m.payload())] == []


@pytest.mark.parametrize("h", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def test_a_digest_of_60_hostile_events_lists_every_one(h: str) -> None:
    parts = digest_messages(h, [brand_event(h, i) for i in range(60)])
    listed = [int(x) for m in parts for x in re.findall(r"event-(\d{3})", json.dumps(m.payload()["blocks"]))]
    assert sorted(listed) == list(range(60))


def test_messages_show_their_values_cleaned_not_dropped() -> None:
    hostile = HOSTILE[0] + " " + HOSTILE[5]
    payload = json.dumps(alert_message(model_alerts(hostile)[0]).payload(), ensure_ascii=False)
    assert "&lt;!channel&gt;" in payload and "&lt;@U123&gt;" in payload and "&lt;https://evil.example/x|click here&gt;" in payload
    assert "Uni\ufffdted" in payload  # the hidden character is shown, not silently removed
    assert "p&lt;1e-300" in brand_message(brand_event("United")).text  # the real escalation wording, escaped


def test_long_fields_are_cut_with_an_ellipsis_on_character_boundaries() -> None:
    blocks = alert_message(model_alerts("&" * 10_000)[0]).payload()["blocks"]
    body = blocks[1]["text"]["text"]
    assert body.endswith("&amp;…") and len(body) <= messages.SECTION_MAX and body.count("&amp;") == (len(body) - 1) // 5
    emoji = alert_message(model_alerts("👩\u200d💻" * 3_000)[0]).payload()["blocks"][1]["text"]["text"]
    assert emoji.endswith("💻…")  # never a dangling joiner


def test_hidden_characters_are_shown_once_per_run_not_expanded() -> None:
    assert clean("a\u200b\u200b\u202eb\x00c") == "a\ufffdb\ufffdc"
    assert len(alert_message(model_alerts("\u200b" * 10_000)[0]).text) < 300


def test_digest_of_60_says_how_many_and_lists_every_one_once() -> None:
    events = [brand_event("<!channel>", i) for i in range(60)]
    parts = digest_messages("team", events)
    listed = [int(x) for m in parts for x in re.findall(r"event-(\d{3})", json.dumps(m.payload()["blocks"]))]
    assert sorted(listed) == list(range(60))  # 0 silently dropped, none twice
    assert all("60 brand alerts" in m.text and "60 brand alerts" in m.payload()["blocks"][0]["text"]["text"] for m in parts)
    assert [m.payload()["blocks"][-1]["elements"][0]["text"].split("· ")[1] for m in parts] == [
        "alerts 1–20 of 60 ", "alerts 21–40 of 60 ", "alerts 41–60 of 60 "]


def test_more_examples_and_post_ids_than_shown_are_counted() -> None:
    brand = json.dumps(brand_message(brand_event("x")).payload(), ensure_ascii=False)
    assert "…and 55 more posts" in brand
    model = json.dumps(alert_message(model_alerts("x")[0]).payload(), ensure_ascii=False)
    assert "…and 50 more posts" in model


def test_every_alert_kind_and_retrain_status_has_a_title() -> None:
    assert set(messages.KINDS) == set(typing.get_args(AlertKind))
    titles = {m.payload()["blocks"][0]["text"]["text"] for m in map(alert_message, outcome_alerts("m/3"))}
    assert {"🧪 Challenger registered", "🚫 Retrained model rejected", "⏭️ Retrain skipped", "💥 Retrain failed",
            "🚀 Model promoted"} == titles


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
