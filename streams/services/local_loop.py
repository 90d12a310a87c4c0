"""The processes a local closed loop runs, and what drives them: the worker and the trainer as child
processes, a simulated annotator answering the flyback label requests from gold labels, a collector
of the alerts topic, and the waits between them. Used by the demo and the soak benchmark."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape

from streams.core.schemas import Alert, HumanLabel, LabelRequest
from streams.core.settings import Settings
from streams.core.web_auth import auth_headers
from streams.services.trainer import OutcomeRecord, TrainerStatus
from streams.services.trainer_status import fetch_status

console = Console()


@dataclass
class WorkerHandle:
    proc: subprocess.Popen[bytes]
    base_url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # the web token, when one is set

    def get(self, path: str) -> Any:
        """The JSON of a GET of ``path``; an error status raises :class:`httpx.HTTPStatusError`."""
        resp = httpx.get(self.base_url + path, headers=self.headers, timeout=30)
        resp.raise_for_status()
        return resp.json()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


class WorkerExited(RuntimeError):
    """The worker process ended while it was awaited."""

    def __init__(self, returncode: int) -> None:
        super().__init__(f"the worker exited with code {returncode}")
        self.returncode = returncode


def became_ready(proc: subprocess.Popen[bytes], get: Callable[[str], Any], timeout_s: float, interval_s: float = 0.5) -> bool:
    """Poll the worker's ``/healthz`` until it says ready (True) or ``timeout_s`` passes (False).

    Raises :class:`WorkerExited` as soon as the process ends: a dead worker is not waited for.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise WorkerExited(proc.returncode)
        try:
            if get("/healthz").get("ready"):
                return True
        except (httpx.HTTPError, ValueError):  # not listening yet, or not answering properly yet
            pass
        time.sleep(interval_s)
    return False


def start_worker(settings: Settings, log_path: Path, timeout_s: float = 180) -> WorkerHandle:
    log = open(log_path, "ab")
    proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, env={**os.environ, **settings.as_env()})
    handle = WorkerHandle(proc, f"http://{settings.web_host}:{settings.web_port}", auth_headers(settings.web_token))
    with console.status("starting the worker (joins the consumer group, loads the model)…"):
        try:
            if became_ready(proc, handle.get, timeout_s):
                return handle
        except WorkerExited as exc:
            raise RuntimeError(f"{exc}; see {log_path}") from None
    handle.stop()
    raise TimeoutError(f"the worker was not ready within {timeout_s:.0f}s; see {log_path}")


def wait_processed(worker: WorkerHandle, expected: int, timeout_s: float = 1800) -> dict[str, Any]:
    from tqdm import tqdm

    deadline = time.monotonic() + timeout_s
    with tqdm(total=expected, unit="post", desc="scored+stored") as bar:
        while time.monotonic() < deadline:
            stats = worker.get("/stats")
            # A post in a language the model does not read is stored unscored: processed all the same.
            done = stats["posts_scored"] + stats.get("posts_unscored", 0) + stats["dead_letters"]
            bar.update(min(done, expected) - bar.n)
            if done >= expected:
                return stats
            time.sleep(1)
    raise TimeoutError(f"only part of {expected} posts were processed within {timeout_s:.0f}s")


class SimulatedAnnotator(threading.Thread):
    """Answers the label queue from the corpus's gold labels, as a team of annotators would."""

    def __init__(self, settings: Settings, gold: dict[str, str]) -> None:
        super().__init__(name="demo-annotator", daemon=True)
        self.settings, self.gold = settings, gold
        self.stop_event = threading.Event()
        self.answered = 0

    def run(self) -> None:
        from kafka import KafkaProducer

        from streams.kafka.security import open_client
        from streams.kafka.group import group_consumer

        s = self.settings
        consumer = group_consumer(s, "label-requests", group="demo-annotator", client_id="brandpulse-demo-annotator",
                                  enable_auto_commit=True)
        producer = open_client(KafkaProducer, s, acks="all")
        try:
            while not self.stop_event.is_set():
                for records in consumer.poll(timeout_ms=500).values():
                    for rec in records:
                        req = LabelRequest.model_validate_json(rec.value)
                        if req.post_id in self.gold:
                            label = HumanLabel(post_id=req.post_id, label=self.gold[req.post_id],
                                               annotator="demo-annotator (corpus gold labels)", text=req.text)
                            producer.send(s.topic("labels"), key=req.post_id.encode(), value=label.model_dump_json().encode())
                            self.answered += 1
                producer.flush()
        finally:
            consumer.close()
            producer.close()


class AlertCollector(threading.Thread):
    def __init__(self, settings: Settings) -> None:
        super().__init__(name="demo-alerts", daemon=True)
        self.settings = settings
        self.alerts: list[Alert] = []
        self.received: list[float] = []  # time.monotonic() of each alert's arrival, in step with ``alerts``
        self.stop_event = threading.Event()

    def run(self) -> None:
        from kafka import KafkaConsumer

        from streams.kafka.security import open_client

        s = self.settings
        # No group: nothing to commit (kafka-python warns about auto-commit without a group otherwise).
        consumer = open_client(KafkaConsumer, s, s.topic("alerts"), group_id=None,
                               auto_offset_reset="latest", enable_auto_commit=False)
        try:
            while not self.stop_event.is_set():
                for records in consumer.poll(timeout_ms=500).values():
                    for rec in records:
                        alert = Alert.model_validate_json(rec.value)
                        self.alerts.append(alert)
                        self.received.append(time.monotonic())
                        # Alert text is data: "[test]" in a post must print as such, not as Rich markup.
                        head = "[bold green]RESOLVED[/]" if alert.resolution else "[bold red]ALERT[/]"
                        console.print(f"{head} {escape(alert.kind)} ({escape(alert.detector)}, brand "
                                      f"{escape(alert.brand or 'all')}): {escape(alert.message)}")
        finally:
            consumer.close()


def start_trainer(settings: Settings, log_path: Path, *, base_sample: int = 3000, min_labels: int = 100,
                  fresh_labels: int = 0, extra: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    # Sized for the demo: a few thousand general tweets plus the human labels, ~2-5 minutes on 2 cores.
    cmd = [sys.executable, "-m", "streams.cli", "trainer", "--base-sample", str(base_sample),
           "--min-labels", str(min_labels), "--fresh-labels", str(fresh_labels), *extra]
    return subprocess.Popen(cmd, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **settings.as_env()})


def wait_until(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    with console.status(what):
        while time.monotonic() < deadline:
            if value := check():
                return value
            time.sleep(2)
    return None


@dataclass
class TrainerGone:
    """The trainer process ended before it said what became of the retrain."""

    reason: str


def trainer_outcome(settings: Settings, proc: subprocess.Popen[bytes], after: dt.datetime) -> OutcomeRecord | TrainerGone | None:
    """The trainer's first outcome finished after ``after`` (from its status endpoint); None while there is none."""
    import httpx

    if proc.poll() is not None:
        return TrainerGone(f"the trainer exited with code {proc.returncode}")
    try:
        status = fetch_status(settings)
    except httpx.HTTPError:
        return None  # still starting
    return next((o for o in status.outcomes if o.finished_at >= after), None)


def trainer_status(settings: Settings) -> TrainerStatus | None:
    import httpx

    try:
        return fetch_status(settings)
    except httpx.HTTPError:
        return None


def settled(count: Callable[[], int], quiet_s: float) -> Callable[[], bool]:
    """A check that turns true once ``count()`` has not moved for ``quiet_s`` (the stream's labels are in)."""
    last = {"value": count(), "at": time.monotonic()}

    def check() -> bool:
        value = count()
        if value != last["value"]:
            last.update(value=value, at=time.monotonic())
        return time.monotonic() - last["at"] >= quiet_s

    return check
