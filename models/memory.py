"""The process's native heap: how much of it glibc holds free, and handing that back to the OS.

A long-running process that loads and drops models (a challenger per retrain, a champion per
promotion) frees hundreds of MB at a time from many threads. glibc keeps freed memory in per-thread
arenas and returns it only from the top of each heap, so without a trim the RSS keeps what every
earlier model once took. Elsewhere than glibc (macOS, musl) these are no-ops and the stats are None.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from functools import cache


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
    )]


@cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only; musl has no malloc_trim
    except (OSError, AttributeError):
        return None
    return libc


def trim_heap() -> None:
    """Give the free pages of every glibc arena back to the OS (``malloc_trim``), without a garbage collection.

    Cheap enough to run every minute in a busy worker (12 ms after a model's warm-up had freed 160 MB of
    scratch, under 1 ms otherwise): threads that allocate and free in turn leave free pages inside their
    arenas, which glibc alone returns only from each heap's top.
    """
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def release_memory() -> None:
    """Collect Python's garbage, then give the heap's free pages back to the OS."""
    gc.collect()
    trim_heap()


def heap_stats() -> dict[str, float] | None:
    """glibc's heap in MB: ``in_use`` by live allocations, ``free`` in its free lists (a trim hands their
    pages back to the OS but glibc still counts them here: compare RSS with ``in_use``), ``mmapped``
    large blocks; None if unknown."""
    libc = _libc()
    if libc is None or not hasattr(libc, "mallinfo2"):  # mallinfo2: glibc 2.33+
        return None
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    mb = 2**20
    return {"in_use": info.uordblks / mb, "free": info.fordblks / mb, "mmapped": info.hblkhd / mb}
