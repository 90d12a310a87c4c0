"""CPU time by named stage, per process: where a worker's cores go (``bench pipeline`` prints the shares).

A stage adds the CPU time *of the thread that runs it* (``time.thread_time_ns``): the worker scores,
stores and checks model health in threads beside the event loop, so process time would charge a stage
with whatever the other threads did meanwhile. Stages nest and are exclusive: an inner stage's time is
taken out of the stage around it, so the stages add up to the time they covered, never more (unless
two coroutines' stages on one thread overlap without nesting; then each is charged its own span).

Work on native thread pools (torch's intra-op threads, ONNX Runtime's and OpenVINO's, the tokenizer's,
ClickHouse's engine) is no Python thread's time; the worker reports those threads apart
(:func:`streams.core.cpu_report.cpu_report`). Time a stage only over synchronous code: a section that
awaits would charge the coroutines that ran meanwhile.

It lives in ``models`` because the scorer times its own tokenising and forward pass; the worker's
stages use the same process-wide :data:`STAGES`. Cost: two ``clock_gettime`` calls and a lock per stage,
and the stages wrap batches, never single posts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass


@dataclass(slots=True)
class _Open:
    name: str
    started_ns: int
    inner_ns: int = 0  # time of stages nested inside this one, taken out of its own


class StageCPU:
    """Thread CPU seconds per stage name; thread-safe. ``clock`` returns the running thread's CPU time in ns."""

    def __init__(self, clock: Callable[[], int] = time.thread_time_ns) -> None:
        self._clock = clock
        self._ns: dict[str, int] = {}
        self._calls: dict[str, int] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        stack: list[_Open] = self._local.__dict__.setdefault("stack", [])
        frame = _Open(name, self._clock())
        stack.append(frame)
        try:
            yield
        finally:
            elapsed = self._clock() - frame.started_ns
            # Removed by identity, not popped: coroutines sharing a thread may leave out of order.
            at = next(i for i in range(len(stack) - 1, -1, -1) if stack[i] is frame)
            del stack[at]
            if at:
                stack[at - 1].inner_ns += elapsed
            self.add(name, max(elapsed - frame.inner_ns, 0))

    def add(self, name: str, ns: int) -> None:
        with self._lock:
            self._ns[name] = self._ns.get(name, 0) + ns
            self._calls[name] = self._calls.get(name, 0) + 1

    def seconds(self) -> dict[str, float]:
        """CPU seconds per stage since the process started (or :meth:`reset`)."""
        with self._lock:
            return {name: ns / 1e9 for name, ns in self._ns.items()}

    def calls(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)

    def reset(self) -> None:
        with self._lock:
            self._ns.clear()
            self._calls.clear()


STAGES = StageCPU()


def stage(name: str) -> AbstractContextManager[None]:
    """``with stage("forward"): ...`` on the process-wide :data:`STAGES`."""
    return STAGES.stage(name)
