"""Waits that poll for a condition instead of sleeping a fixed time, and say what they waited for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class _Deadline:
    def __init__(self, timeout: float, what: str) -> None:
        self.at, self.timeout, self.what = time.monotonic() + timeout, timeout, what

    def met(self, value: object) -> bool:
        """True once ``value`` is truthy; a TimeoutError naming what was awaited once time is up."""
        if value:
            return True
        if time.monotonic() >= self.at:
            raise TimeoutError(f"timed out after {self.timeout:.0f}s waiting for {self.what}; last={value!r}")
        return False


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Call ``predicate`` until it returns something truthy, and return that."""
    deadline = _Deadline(timeout, what)
    while not deadline.met(value := predicate()):
        time.sleep(interval)
    return value


async def wait_for_async(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.01) -> T:
    """:func:`wait_for` inside an event loop: the loop keeps running while it polls."""
    deadline = _Deadline(timeout, what)
    while not deadline.met(value := predicate()):
        await asyncio.sleep(interval)
    return value
