"""Slack alerts: Block Kit rendering and a webhook notifier that never blocks the stream.

:class:`SlackNotifier` owns an asyncio queue and one background task. ``notify(alert)`` only
enqueues (constant time, safe from the event loop thread or any other thread) and returns, so a
slow or broken Slack never stalls scoring. The task posts each alert with
``slack_sdk``'s ``AsyncWebhookClient``, whose retry handlers retry timeouts and connection errors
(``AsyncConnectionErrorRetryHandler``), 5xx (``AsyncServerErrorRetryHandler``, widened from 500/503
to every 5xx) with capped exponential backoff plus jitter, and 429 honouring ``Retry-After``
(``AsyncRateLimitErrorRetryHandler``), until the alert is delivered or ``give_up_after_s`` (default
1 h) passes; other 4xx (bad payload, revoked webhook) are not retryable and are logged once.
Delivery is in order; the queue is bounded (default 1,000) and drops the *oldest* alert when
full, since during a long outage the newest state matters most.

The webhook URL is a secret (anyone holding it can post to the channel). It is kept in a
``SecretStr``, never logged — logs show :func:`redact_url`'s ``https://hooks.slack.com/…#<sha256
prefix>`` — and slack_sdk's own debug logging (which prints the URL) is routed to a silenced
logger. Without a URL the notifier prints the alert text to stdout instead (local development).
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import random
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import SecretStr
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.webhook.async_client import AsyncWebhookClient

from drift.records import Alert

log = logging.getLogger(__name__)

_TITLES = {
    "confidence_drift": ("🟠", "Confidence drift"),
    "label_drift": ("🔴", "Label-distribution drift"),
    "sentiment_shift": ("📣", "Sentiment shift"),
    "estimated_performance": ("🔴", "Estimated accuracy fell"),
    "input_drift": ("🟠", "Input drift"),
    "labelled_performance": ("🔴", "Live accuracy dropped"),
    "retrain": ("🔁", "Retraining requested"),
    "promotion": ("🚀", "Model promotion"),
}
_NEXT_STEPS = {
    "confidence_drift": (
        "If overall confidence fell, a retrain request is opened for this model version (one at a time; "
        "further alerts join it); a brand's confidence moving, or confidence rising, does not retrain. "
        "Flyback labelling keeps sampling, so labelled accuracy will confirm or clear this. "
        "Check the sample posts for a new topic, language or spam wave."
    ),
    "label_drift": (
        "A retrain request is opened for this model version (one at a time; further alerts join it). "
        "If the sample posts are correctly labelled this is a real change in sentiment, not model "
        "failure — check the brand dashboard before retraining."
    ),
    "sentiment_shift": (
        "No retraining: the model's estimated accuracy and input look as validated, so this is what people "
        "say about the brand. Check the brand dashboard and the sample posts; flyback labels keep checking the model."
    ),
    "estimated_performance": (
        "A retrain request is opened for this model version (one at a time; further alerts join it). "
        "Flyback labels will confirm the drop; check the sample posts (the least confident ones)."
    ),
    "input_drift": (
        "A retrain request is opened for this model version: the model reads a different kind of text than it "
        "was validated on. Check the sample posts for a new source, language or spam wave."
    ),
    "labelled_performance": (
        "Retraining is requested with the newest human labels; the challenger runs in shadow and is "
        "promoted only if it beats this version on the held-out set."
    ),
    "retrain": "The trainer picks up the request; a shadow deployment follows if the new model passes evaluation.",
    "promotion": "The new champion is live; drift detectors restart with its reference distribution.",
}


def redact_url(url: str) -> str:
    """``scheme://host/…#abcd1234``: enough to tell webhooks apart, useless for posting."""
    parts = urlsplit(url)
    fingerprint = hashlib.sha256(url.encode("utf-8")).hexdigest()[:8]
    return f"{parts.scheme or '?'}://{parts.hostname or '?'}/…#{fingerprint}"


def _esc(text: str) -> str:
    # Slack mrkdwn treats &, < and > as control characters (links, mentions).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _when(ts: Any) -> str:
    epoch = int(ts.timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{ts.isoformat(timespec='seconds')}>"


def alert_text(alert: Alert) -> str:
    """One-line plain text of an alert (notification fallback and stdout output)."""
    _, title = _TITLES.get(alert.kind, ("⚠️", alert.kind))
    scope = f"brand {alert.brand}" if alert.brand else "all brands"
    return (
        f"[brandpulse] {title} — {alert.model_version}, {scope}: {alert.message} "
        f"({alert.detector}: {alert.statistic:.4g} vs threshold {alert.threshold:.4g})"
    )


def alert_blocks(alert: Alert) -> list[dict[str, Any]]:
    """Block Kit blocks: what drifted, how much, since when, sample posts, what happens next."""
    emoji, title = _TITLES.get(alert.kind, ("⚠️", alert.kind))
    scope = f"brand *{_esc(alert.brand)}*" if alert.brand else "all brands"
    fields = [
        f"*Model version*\n`{_esc(alert.model_version)}`",
        f"*Scope*\n{scope}",
        f"*Statistic*\n{alert.statistic:.4g} (threshold {alert.threshold:.4g})",
        f"*Detector*\n{_esc(alert.detector)}",
        f"*Window*\n{alert.window:,} posts",
        f"*Since*\n{_when(alert.since) if alert.since else 'unknown'}",
    ]
    samples = ", ".join(f"`{_esc(pid)}`" for pid in alert.example_post_ids) or "none"
    return [
        {"type": "header", "text": {"type": "plain_text", "text": f"{emoji} {title}"[:150], "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _esc(alert.message or title)[:3000]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f[:2000]} for f in fields]},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Sample posts*\n{samples}"[:3000]}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"*What happens next:* {_NEXT_STEPS.get(alert.kind, '')}"}],
        },
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"alert `{alert.alert_id}` · detected {_when(alert.detected_at)}"}
            ],
        },
    ]


# Timeouts and refused or reset connections: worth another try. aiohttp's timeouts are asyncio's.
_TRANSIENT: tuple[type[Exception], ...] = (asyncio.TimeoutError, aiohttp.ClientError, OSError)
# Retries inside one send; slack_sdk's client stops at 100 attempts whatever the handlers say, so a
# longer outage is a new send (the give-up deadline spans all of them).
_RETRIES_PER_SEND = 20


@dataclass
class _Delivery:
    """The alert a send is for, so the retry handlers can say which alert they retry without the URL."""

    alert_id: str
    redacted: str
    scrub: Any  # Callable[[str], str]
    retries: int = 0


_delivery: contextvars.ContextVar[_Delivery] = contextvars.ContextVar("slack_delivery")


class _CappedBackoff(RetryIntervalCalculator):
    """initial · 2^attempt, capped, with "equal jitter" (half fixed, half random) so senders spread out."""

    def __init__(self, initial_s: float, max_s: float) -> None:
        self.initial_s, self.max_s = initial_s, max_s

    def calculate_sleep_duration(self, current_attempt: int) -> float:
        return min(self.max_s, self.initial_s * 2**current_attempt) * random.uniform(0.5, 1.0)


class _Logged(AsyncRetryHandler):
    """Logs each retry on this module's logger (slack_sdk's own log lines carry the secret URL)."""

    async def prepare_for_next_attempt_async(self, *, state, request, response=None, error=None):  # type: ignore[no-untyped-def]
        d = _delivery.get()
        d.retries += 1
        if response is not None:
            problem = f"HTTP {response.status_code}"
        else:
            problem = f"{type(error).__name__}: {d.scrub(str(error))}".rstrip(": ")
        log.warning(
            "Slack webhook %s failed (%s); retrying alert %s (attempt %d)", d.redacted, problem, d.alert_id, d.retries + 1
        )
        await super().prepare_for_next_attempt_async(state=state, request=request, response=response, error=error)


class _ConnectionErrors(_Logged, AsyncConnectionErrorRetryHandler):
    pass


class _RateLimited(_Logged, AsyncRateLimitErrorRetryHandler):
    pass


class _ServerErrors(_Logged, AsyncServerErrorRetryHandler):
    async def _can_retry_async(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[no-untyped-def]
        # slack_sdk retries only 500 and 503; a 502 or 504 from a proxy in front of Slack is as transient.
        return response is not None and response.status_code >= 500


def _retry_handlers(backoff_initial_s: float, backoff_max_s: float) -> list[AsyncRetryHandler]:
    backoff = _CappedBackoff(backoff_initial_s, backoff_max_s)
    return [
        _ConnectionErrors(max_retry_count=_RETRIES_PER_SEND, interval_calculator=backoff, error_types=list(_TRANSIENT)),
        _RateLimited(max_retry_count=_RETRIES_PER_SEND),
        _ServerErrors(max_retry_count=_RETRIES_PER_SEND, interval_calculator=backoff),
    ]


def _transport_logger() -> logging.Logger:
    # slack_sdk logs the full webhook URL at DEBUG; this logger is above DEBUG and does not propagate.
    quiet = logging.getLogger("streams.slack.notifier.transport")
    quiet.setLevel(logging.CRITICAL)
    quiet.propagate = False
    return quiet


class SlackNotifier:
    """Non-blocking, retrying Slack webhook sender. Use inside a running event loop::

        notifier = SlackNotifier(settings.slack_webhook_url)
        await notifier.start()
        notifier.notify(alert)          # returns immediately
        await notifier.aclose()         # drains (bounded) on shutdown
    """

    def __init__(
        self,
        webhook_url: SecretStr | None,
        *,
        timeout_s: float = 5.0,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
        give_up_after_s: float = 3600.0,
        max_queue: int = 1_000,
    ) -> None:
        url = webhook_url.get_secret_value().strip() if webhook_url is not None else ""
        if url and urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(
                f"Slack webhook URL {redact_url(url)} must start with https:// "
                "(set BRANDPULSE_SLACK_WEBHOOK_URL to the incoming-webhook URL from Slack)"
            )
        self._url = url
        self._redacted = redact_url(url) if url else "stdout"
        self.timeout_s = timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.give_up_after_s = give_up_after_s
        self.max_queue = max_queue
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self._queue: asyncio.Queue[tuple[Alert, dict[str, Any] | None]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._client = (
            AsyncWebhookClient(
                url, timeout=timeout_s, logger=_transport_logger(),  # type: ignore[arg-type]
                retry_handlers=_retry_handlers(backoff_initial_s, backoff_max_s),
            )
            if url
            else None
        )

    def __repr__(self) -> str:
        return f"SlackNotifier({self._redacted})"

    async def start(self) -> None:
        """Start the background sender on the running loop (idempotent)."""
        if self._task is None:
            self._bind(asyncio.get_running_loop())

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue = asyncio.Queue()
        self._task = loop.create_task(self._run(), name="slack-notifier")

    def notify(self, alert: Alert, *, blocks: list[dict[str, Any]] | None = None, text: str | None = None) -> None:
        """Queue an alert for delivery and return at once (prints it when no URL is configured).

        ``blocks`` / ``text`` replace the default rendering (brand alerts bring their own "why")."""
        if not self._url:
            print(text or alert_text(alert), flush=True)
            return
        payload = {"text": text, "blocks": blocks} if blocks is not None or text is not None else None
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self._loop is None:
            if running is None:
                raise RuntimeError("SlackNotifier has no event loop: `await notifier.start()` inside the app first")
            self._bind(running)
        assert self._loop is not None
        if running is self._loop:
            self._enqueue(alert, payload)
        else:
            self._loop.call_soon_threadsafe(self._enqueue, alert, payload)

    def _enqueue(self, alert: Alert, payload: dict[str, Any] | None = None) -> None:
        assert self._queue is not None
        if self._queue.qsize() >= self.max_queue:
            self._queue.get_nowait()
            self._queue.task_done()
            self.dropped += 1
            log.warning("Slack queue full (%d); dropped the oldest alert", self.max_queue)
        self._queue.put_nowait((alert, payload))

    @property
    def pending(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    async def drain(self, timeout_s: float) -> bool:
        """Wait until every queued alert is delivered or given up; False on timeout."""
        if self._queue is None:
            return True
        try:
            await asyncio.wait_for(self._queue.join(), timeout_s)
        except asyncio.TimeoutError:
            return False
        return True

    async def aclose(self, drain_timeout_s: float = 10.0) -> None:
        """Give queued alerts ``drain_timeout_s`` to go out, then stop the sender."""
        if self._task is None:
            return
        if not await self.drain(drain_timeout_s):
            log.warning("Slack notifier closed with %d undelivered alert(s) (%s)", self.pending, self._redacted)
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            alert, payload = await self._queue.get()
            try:
                await self._deliver(alert, payload)
            except Exception:  # the sender must outlive any single bad alert
                self.failed += 1
                log.exception("Slack delivery of alert %s failed unexpectedly", alert.alert_id)
            finally:
                self._queue.task_done()

    def _scrub(self, text: str) -> str:
        if not self._url:
            return text
        text = text.replace(self._url, self._redacted)
        path = urlsplit(self._url).path
        return text.replace(path, "/…") if len(path) > 1 else text

    async def _deliver(self, alert: Alert, custom: dict[str, Any] | None = None) -> None:
        assert self._client is not None
        payload = {"text": (custom or {}).get("text") or alert_text(alert),
                   "blocks": (custom or {}).get("blocks") or alert_blocks(alert)}
        delivery = _Delivery(alert.alert_id, self._redacted, self._scrub)
        _delivery.set(delivery)  # this task's context: the handlers read it while retrying this send
        started = time.monotonic()
        while True:
            left = self.give_up_after_s - (time.monotonic() - started)
            try:
                # The handlers retry inside send_dict; the deadline cuts a send (or its backoff sleep) short.
                resp = await asyncio.wait_for(self._client.send_dict(payload), timeout=max(left, 0.0))
            except _TRANSIENT as exc:  # the deadline, or the handlers' retries for this send ran out
                problem = f"{type(exc).__name__}: {self._scrub(str(exc))}".rstrip(": ")
            else:
                if 200 <= resp.status_code < 300:
                    self.delivered += 1
                    if delivery.retries:
                        log.info("Slack alert %s delivered after %d attempts", alert.alert_id, delivery.retries + 1)
                    return
                if resp.status_code != 429 and resp.status_code < 500:
                    self.failed += 1
                    log.error(
                        "Slack webhook %s rejected alert %s: HTTP %d %s (not retried; check the webhook)",
                        self._redacted, alert.alert_id, resp.status_code, self._scrub(str(resp.body))[:200],
                    )
                    return
                problem = f"HTTP {resp.status_code}"
            if time.monotonic() - started >= self.give_up_after_s:
                self.failed += 1
                log.error(
                    "Giving up on Slack alert %s after %d attempts over %.0fs (%s, last: %s)",
                    alert.alert_id, delivery.retries + 1, time.monotonic() - started, self._redacted, problem,
                )
                return
            log.warning("Slack webhook %s still failing (%s); alert %s: a new send in %.0fs",
                        self._redacted, problem, alert.alert_id, self.backoff_max_s)
            await asyncio.sleep(min(self.backoff_max_s, max(self.give_up_after_s - (time.monotonic() - started), 0.0)))
