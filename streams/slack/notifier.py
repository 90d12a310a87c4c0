"""The Slack webhook sender: never blocks the stream, retries, never logs the URL.

It sends what :mod:`streams.slack.messages` rendered and renders nothing itself.
:class:`SlackNotifier` owns an asyncio queue and one background task. ``notify(message)`` only
enqueues (constant time, safe from the event loop thread or any other thread) and returns, so a
slow or broken Slack never stalls scoring. The task posts each message with
``slack_sdk``'s ``AsyncWebhookClient``, whose retry handlers retry timeouts and connection errors
(``AsyncConnectionErrorRetryHandler``), 5xx (``AsyncServerErrorRetryHandler``, widened from 500/503
to every 5xx) with capped exponential backoff plus jitter, and 429 honouring ``Retry-After``
(``AsyncRateLimitErrorRetryHandler``), until the message is delivered or ``give_up_after_s`` (default
1 h) passes; other 4xx (bad payload, revoked webhook) are not retryable and are logged once.
Delivery is in order; the queue is bounded (default 1,000) and drops the *oldest* message when
full (counted in ``dropped`` and logged), since during a long outage the newest state matters most.

The webhook URL is a secret (anyone holding it can post to the channel). It is kept in a
``SecretStr``, never logged — logs show :func:`redact_url`'s ``https://hooks.slack.com/…#<sha256
prefix>`` — and slack_sdk's own debug logging (which prints the URL) is routed to a silenced
logger. Without a URL the notifier prints the message's text to stdout instead (local development).
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

from streams.slack.messages import SlackMessage

log = logging.getLogger(__name__)


def redact_url(url: str) -> str:
    """``scheme://host/…#abcd1234``: enough to tell webhooks apart, useless for posting."""
    parts = urlsplit(url)
    fingerprint = hashlib.sha256(url.encode("utf-8")).hexdigest()[:8]
    return f"{parts.scheme or '?'}://{parts.hostname or '?'}/…#{fingerprint}"


# Timeouts and refused or reset connections: worth another try. aiohttp's timeouts are asyncio's.
_TRANSIENT: tuple[type[Exception], ...] = (asyncio.TimeoutError, aiohttp.ClientError, OSError)
# Retries inside one send; slack_sdk's client stops at 100 attempts whatever the handlers say, so a
# longer outage is a new send (the give-up deadline spans all of them).
_RETRIES_PER_SEND = 20


@dataclass
class _Delivery:
    """The message a send is for, so the retry handlers can say which one they retry without the URL."""

    key: str
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
            "Slack webhook %s failed (%s); retrying message %s (attempt %d)", d.redacted, problem, d.key, d.retries + 1
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
        notifier.notify(alert_message(alert))   # returns immediately
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
        self._queue: asyncio.Queue[SlackMessage] | None = None
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

    def notify(self, message: SlackMessage) -> None:
        """Queue a message for delivery and return at once (prints its text when no URL is configured)."""
        if not self._url:
            print(message.text, flush=True)
            return
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
            self._enqueue(message)
        else:
            self._loop.call_soon_threadsafe(self._enqueue, message)

    def _enqueue(self, message: SlackMessage) -> None:
        assert self._queue is not None
        if self._queue.qsize() >= self.max_queue:
            oldest = self._queue.get_nowait()
            self._queue.task_done()
            self.dropped += 1
            log.warning("Slack queue full (%d); dropped the oldest message %s", self.max_queue, oldest.key)
        self._queue.put_nowait(message)

    @property
    def pending(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    async def drain(self, timeout_s: float) -> bool:
        """Wait until every queued message is delivered or given up; False on timeout."""
        if self._queue is None:
            return True
        try:
            await asyncio.wait_for(self._queue.join(), timeout_s)
        except asyncio.TimeoutError:
            return False
        return True

    async def aclose(self, drain_timeout_s: float = 10.0) -> None:
        """Give queued messages ``drain_timeout_s`` to go out, then stop the sender."""
        if self._task is None:
            return
        if not await self.drain(drain_timeout_s):
            log.warning("Slack notifier closed with %d undelivered message(s) (%s)", self.pending, self._redacted)
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            message = await self._queue.get()
            try:
                await self._deliver(message)
            except Exception:  # the sender must outlive any single bad message
                self.failed += 1
                log.exception("Slack delivery of message %s failed unexpectedly", message.key)
            finally:
                self._queue.task_done()

    def _scrub(self, text: str) -> str:
        if not self._url:
            return text
        text = text.replace(self._url, self._redacted)
        path = urlsplit(self._url).path
        return text.replace(path, "/…") if len(path) > 1 else text

    async def _deliver(self, message: SlackMessage) -> None:
        assert self._client is not None
        payload = message.payload()
        delivery = _Delivery(message.key, self._redacted, self._scrub)
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
                        log.info("Slack message %s delivered after %d attempts", message.key, delivery.retries + 1)
                    return
                if resp.status_code != 429 and resp.status_code < 500:
                    self.failed += 1
                    log.error(
                        "Slack webhook %s rejected message %s: HTTP %d %s (not retried; check the webhook)",
                        self._redacted, message.key, resp.status_code, self._scrub(str(resp.body))[:200],
                    )
                    return
                problem = f"HTTP {resp.status_code}"
            if time.monotonic() - started >= self.give_up_after_s:
                self.failed += 1
                log.error(
                    "Giving up on Slack message %s after %d attempts over %.0fs (%s, last: %s)",
                    message.key, delivery.retries + 1, time.monotonic() - started, self._redacted, problem,
                )
                return
            log.warning("Slack webhook %s still failing (%s); message %s: a new send in %.0fs",
                        self._redacted, problem, message.key, self.backoff_max_s)
            await asyncio.sleep(min(self.backoff_max_s, max(self.give_up_after_s - (time.monotonic() - started), 0.0)))
