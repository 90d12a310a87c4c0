"""A worker's CPU during a run, by stage, from two of its ``/cpu`` reports (:mod:`streams.core.cpu_report`).

Every row is a share of the process's own CPU over the run, so the rows add up to 100 %: the named
stages (thread CPU of the Python thread that ran them), then what no stage covers — Python threads
outside any stage (the event loop with Faust, aiokafka and the producer's flush; the consumer thread),
the native pools (torch / ONNX Runtime / OpenVINO intra-op threads and the tokenizer's: nearly all of
it forward-pass work the calling thread waited on), ClickHouse's named engine threads, and threads
that ended during the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Stage order in tables: the batch's path through the worker, then monitoring.
STAGE_ORDER = (
    "decode and validate", "language ID", "tokenise", "forward", "score: calibrate, decide, rows", "store", "publish",
    "drift monitors and flyback", "model health", "brand detectors", "heap trim",
)
UNSTAGED = {
    "python": "Python threads outside stages (event loop: Faust, aiokafka, flush)",
    "native_unnamed": "native pools: inference (torch/ONNX/OpenVINO intra-op), tokenizer",
    "native_named": "ClickHouse engine threads",
    "ended": "threads that ended during the run",
}


def cpu_by_stage(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """CPU seconds and share of the process's CPU per row between two reports; ``total_s`` the process's,
    ``stage_calls`` how many stages were timed (their cost is :func:`stage_cost_s` each).

    Rows with no time in the run are left out; ``ended`` is the process total less every live thread's
    (it can be slightly negative: the kernel counts thread time in ticks).
    """
    total = after["process"] - before["process"]
    staged = {name: after["stages"].get(name, 0.0) - before["stages"].get(name, 0.0) for name in after["stages"]}
    seconds = {name: s for name in (*STAGE_ORDER, *sorted(set(staged) - set(STAGE_ORDER))) if (s := staged.get(name, 0.0)) > 0}
    if "threads" in after:
        threads = {group: after["threads"][group] - before["threads"][group] for group in ("python", "native_unnamed", "native_named")}
        seconds[UNSTAGED["python"]] = threads["python"] - sum(staged.values())
        seconds[UNSTAGED["native_unnamed"]] = threads["native_unnamed"]
        seconds[UNSTAGED["native_named"]] = threads["native_named"]
        seconds[UNSTAGED["ended"]] = total - sum(threads.values())
    rows = {name: {"cpu_s": s, "share": s / total if total > 0 else 0.0} for name, s in seconds.items() if s != 0}
    calls = after.get("stage_calls", {})
    stage_calls = sum(n - before.get("stage_calls", {}).get(name, 0) for name, n in calls.items())
    return {"total_s": total, "rows": rows, "stage_calls": stage_calls}


def stage_cost_s(n: int = 20_000) -> float:
    """CPU seconds one timed stage costs here (its two clock reads, the lock and the bookkeeping)."""
    import time

    from models.cpu_stages import StageCPU

    stages = StageCPU()
    started = time.thread_time_ns()
    for _ in range(n):
        with stages.stage("cost"):
            pass
    return (time.thread_time_ns() - started) / n / 1e9


def table_rows(by_process: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, list[str]]]:
    """(row name, one share cell per process) for every row any process has, in stage order."""
    names: list[str] = []
    for report in by_process.values():
        names += [n for n in report["rows"] if n not in names]
    order = [*STAGE_ORDER, *sorted(set(names) - set(STAGE_ORDER) - set(UNSTAGED.values())), *UNSTAGED.values()]
    cells: list[tuple[str, list[str]]] = []
    for name in (n for n in order if n in names):
        row: Sequence[str] = [
            f"{r['rows'][name]['share']:.1%}" if name in r["rows"] else "—" for r in by_process.values()
        ]
        cells.append((name, list(row)))
    return cells
