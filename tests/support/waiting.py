"""Waits that poll for a condition instead of sleeping a fixed time, and say what they waited for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Call ``predicate`` until it returns something truthy, and return that; a TimeoutError names ``what``
    and the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}; last={last!r}")
        time.sleep(interval)


async def wait_for_async(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.01) -> T:
    """:func:`wait_for` inside an event loop: the loop keeps running while it polls."""
    deadline = time.monotonic() + timeout
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}; last={last!r}")
        await asyncio.sleep(interval)
