"""This process's CPU so far: the named stages (:mod:`models.cpu_stages`) and every thread's time, grouped.

The stages count only the Python thread that ran them. The rest of the process is grouped by what the
kernel knows of each thread: Python threads (the event loop with Faust and aiokafka, the consumer
thread, the stage threads' time outside any stage), unnamed native threads (they inherit the process
name: torch's intra-op pool, the ONNX Runtime and OpenVINO pools, the Rust tokenizer's), and named
native threads (ClickHouse's engine names its own: ``BgSchPool``, ``MergeMutate``...). Time of threads
that have ended is only in the process total. A reader diffs two reports taken around a run.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from models.cpu_stages import STAGES

_TASKS = Path("/proc/self/task")


def _thread_seconds(tid: str) -> tuple[str, float] | None:
    """(name, user + system CPU seconds) of one of this process's threads; None once it has ended."""
    try:
        name = (_TASKS / tid / "comm").read_text().strip()
        # Fields after the parenthesised name: utime and stime are the 12th and 13th (proc(5)).
        fields = (_TASKS / tid / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_report() -> dict[str, Any]:
    """CPU seconds since start: ``stages`` (and ``stage_calls``), ``threads`` (python / native_unnamed / native_named), ``process``."""
    times = os.times()
    report: dict[str, Any] = {"stages": STAGES.seconds(), "stage_calls": STAGES.calls(), "process": times.user + times.system}
    if not _TASKS.is_dir():  # not Linux: stages and the total only
        return report
    python = {t.native_id for t in threading.enumerate()}
    process_name = (Path("/proc/self/comm")).read_text().strip()
    groups = {"python": 0.0, "native_unnamed": 0.0, "native_named": 0.0}
    for tid in os.listdir(_TASKS):
        seen = _thread_seconds(tid)
        if seen is None:
            continue
        name, seconds = seen
        group = "python" if int(tid) in python else "native_unnamed" if name == process_name else "native_named"
        groups[group] += seconds
    report["threads"] = groups
    return report
