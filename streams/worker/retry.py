"""Retry with exponential backoff for the effects the worker must not skip.

Giving up on a storage write or a send would mean acknowledging records whose effect never happened.
Only unavailability is retried here: records that a store or broker refuses are isolated and
dead-lettered before (``streams.store.protocol.insert_isolating``, ``streams.kafka.topics.is_record_refused``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class StopRequested(RuntimeError):
    """A retried operation gave up because the process is shutting down; nothing was acknowledged."""


class Backoff:
    """Exponential delays from ``initial`` to ``maximum``; says when to stop retrying for shutdown."""

    def __init__(self, what: str, initial: float, maximum: float, should_stop: Callable[[], bool]) -> None:
        self.what, self.delay, self.maximum, self.should_stop = what, initial, maximum, should_stop
        self.attempt = 0

    def failed(self, exc: BaseException) -> float:
        self.attempt += 1
        if self.should_stop():
            raise StopRequested(f"{self.what} abandoned for shutdown after {self.attempt} attempts") from exc
        delay = self.delay
        log.warning("%s failed (attempt %d): %s; retrying in %.1fs", self.what, self.attempt, exc, delay)
        self.delay = min(self.delay * 2, self.maximum)
        return delay


def retry_forever(
    op: Callable[[], T],
    *,
    what: str,
    initial: float = 0.5,
    maximum: float = 30.0,
    should_stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``op`` until it succeeds; raises :class:`StopRequested` once ``should_stop`` says so."""
    backoff = Backoff(what, initial, maximum, should_stop)
    while True:
        try:
            return op()
        except Exception as exc:  # noqa: BLE001 - unavailability is retried, never fatal
            sleep(backoff.failed(exc))


async def retry_forever_async(
    op: Callable[[], Awaitable[T]],
    *,
    what: str,
    initial: float = 0.5,
    maximum: float = 30.0,
    should_stop: Callable[[], bool] = lambda: False,
) -> T:
    """:func:`retry_forever` for coroutines: waits without blocking the event loop."""
    backoff = Backoff(what, initial, maximum, should_stop)
    while True:
        try:
            return await op()
        except Exception as exc:  # noqa: BLE001 - unavailability is retried, never fatal
            await asyncio.sleep(backoff.failed(exc))
