"""A fake Slack incoming-webhook endpoint on 127.0.0.1, the alerts the Slack tests send, routing rules for the
airline brands, and every kind of message rendered from hostile input with the checks it must pass."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import threading
import time
import typing
import unicodedata
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from drift.brand.base import SpikeSignal
from drift.brand.monitor import BrandEvent
from drift.brand.routing import Route, RoutingRules
from drift.brand.why import Example, Term, Why
from drift.promotion import promotion_alert
from drift.records import AlertKind, RetrainStatus
from drift.retraining.job import RetrainOutcome
from streams.core.schemas import Alert
from streams.slack import messages
from streams.slack.messages import SlackMessage, alert_message, brand_message, digest_messages

SECRET_PATH = "/services/T0SECRET/B0SECRET/xoxbTopSecretToken42"
AIRLINE_GROUPS = {"US airlines": ["United", "Delta", "Southwest"]}


class Receiver:
    """A fake Slack endpoint. ``script`` holds the behaviour of the next requests: an HTTP status
    code to answer with, or "hang" (sleep past the client's timeout, then answer 503); once the
    script is used up every request gets 200 "ok". ``refuse`` answers 500 to every payload it holds true
    for, whenever the request arrives: a send the client timed out on may still reach the server later."""

    def __init__(
        self,
        port: int = 0,
        script: list[int | str] | None = None,
        refuse: typing.Callable[[dict], bool] | None = None,
    ) -> None:
        self.script = list(script or [])
        self.refuse = refuse
        self.requests: list[int | str] = []
        self.delivered: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    action = receiver.script.pop(0) if receiver.script else 200
                    if action == 200 and receiver.refuse is not None and receiver.refuse(json.loads(body)):
                        action = 500
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


def sample_alert(n: int = 1, brand: str | None = "acme") -> Alert:
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


def routing_rules(team: str, digest: str, **team_extra: object) -> RoutingRules:
    """United's spikes to its team now (``team_extra`` adds thresholds, quiet hours...), every US airline's
    alerts to an hourly digest."""
    return RoutingRules(routes=[
        Route(name="united-team", brands=["United"], kinds=["brand_volume_spike", "brand_negative_spike", "brand_spike_resolved"],
              webhooks=[team], **team_extra),
        Route(name="airlines-digest", groups=["US airlines"], webhooks=[digest], delivery="digest", digest="hourly"),
    ])


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


def episode_alerts(h: str) -> list[Alert]:
    """Model alerts that opened and joined a retrain, and the two ways an episode resolves."""
    alert = model_alerts(h)[0]
    return [alert.model_copy(update={"retrain_id": h, "retrain_opened": True}),
            alert.model_copy(update={"retrain_id": h, "retrain_opened": False}),
            alert.model_copy(update={"resolution": "quiet", "resolves": h}),
            alert.model_copy(update={"resolution": "replaced", "resolves": h})]


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
    return ([alert_message(a) for a in model_alerts(h) + episode_alerts(h) + outcome_alerts(h)]
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
