"""A worker left running for months hands its free heap back to the OS on a schedule, not only after a model swap."""

from __future__ import annotations

import pytest

from tests.support.stack import Stack


@pytest.mark.timeout(300)
def test_a_running_worker_trims_its_heap_on_its_schedule(stack: Stack) -> None:
    worker = stack.worker(BRANDPULSE_HEAP_TRIM_INTERVAL_S="0.5").start()
    # /cpu counts each timed stage: the trim runs as its own, off the event loop.
    worker.wait_for(lambda w: w.get("/cpu")["stage_calls"].get("heap trim", 0) >= 3, timeout_s=60, what="three heap trims")
