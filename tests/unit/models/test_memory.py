"""Handing freed heap memory back to the OS, as a worker does after dropping a model."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")


@pytest.mark.parametrize("release", ["release_memory", "trim_heap"])
def test_a_release_gives_freed_heap_memory_back_to_the_os(release: str) -> None:
    # In a process of its own: the test runner's heap is not ours to measure.
    probe = textwrap.dedent(f"""
        import psutil
        from models.memory import {release} as release
        blocks = [bytes(10_000) for _ in range(20_000)]  # 200 MB of malloc'd blocks
        pin = bytes(10_000)  # allocated last: glibc cannot give the rest back by shrinking the top alone
        del blocks
        before = psutil.Process().memory_info().rss
        release()
        print((before - psutil.Process().memory_info().rss) / 2**20)
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert float(out) > 150


def test_heap_stats_count_what_is_allocated() -> None:
    from models.memory import heap_stats

    before = heap_stats()
    blocks = [bytes(10_000) for _ in range(5_000)]
    after = heap_stats()
    assert before is not None and after is not None and after["in_use"] - before["in_use"] > 40
    del blocks
