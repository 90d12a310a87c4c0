"""Facts about the processes a benchmark measures: CPU time, peak memory, finding one by command line."""

from __future__ import annotations

from pathlib import Path

import psutil


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process (all its threads) has used so far; None if it is gone."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return times.user + times.system


def find_pid(*needles: str) -> int | None:
    """The first process whose command line contains every needle (e.g. a broker started elsewhere)."""
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if all(n in cmdline for n in needles):
            return int(proc.info["pid"])
    return None


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """A process's peak resident memory (VmHWM) in MB; None if it is gone.

    psutil reports the current RSS only, and ``ru_maxrss`` is carried across exec (a spawned child
    would report its parent's peak), so Linux's high-water mark is read where the kernel keeps it.
    """
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
