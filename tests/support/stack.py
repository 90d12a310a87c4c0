"""Real brandpulse worker processes on the real broker, each test with its own deployment (tests/e2e)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from streams.services.local_loop import WorkerExited, became_ready
from tests.support.broker import read_topic
from tests.support.data import REPO
from tests.support.net import free_port

if TYPE_CHECKING:
    import pandas as pd

    from streams.core.settings import Settings
    from streams.store.clickhouse import ClickHouseStore


@dataclass
class Worker:
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.env['BRANDPULSE_WEB_PORT']}"

    def start(self, timeout_s: float = 240.0) -> Worker:
        # Generous: a busy 2-core CI box has taken 90 s to load two models and their health references.
        log = open(self.log_path, "ab")
        # Run from the test's own folder (Faust writes its <app id>-data folder there), importing this checkout.
        env = {**self.env, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), self.env.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli.main", "worker", "--loglevel", "info"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.log_path.parent, start_new_session=True,
        )
        try:
            if became_ready(self.proc, self.get, timeout_s, interval_s=0.3):
                return self
        except WorkerExited as exc:
            raise RuntimeError(f"{exc}:\n{self.log_tail()}") from None
        raise TimeoutError(f"worker not ready after {timeout_s}s:\n{self.log_tail()}")

    def get(self, path: str) -> Any:
        token = self.env.get("BRANDPULSE_WEB_TOKEN")  # a worker with a web token wants it on every view
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = httpx.get(self.base_url + path, headers=headers, timeout=30)
        resp.raise_for_status()
        return resp.json()

    def wait_for(self, predicate, timeout_s: float = 180.0, what: str = "condition") -> Any:  # type: ignore[no-untyped-def]
        """Poll ``predicate(worker)`` until it is truthy; fails at once if the worker dies."""
        deadline = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, f"worker died:\n{self.log_tail()}"
            try:
                last = predicate(self)
            except httpx.HTTPError:
                last = None
            if last:
                return last
            time.sleep(0.5)
        raise TimeoutError(f"timed out waiting for {what}; last={last!r}\n{self.log_tail()}")

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@dataclass
class Stack:
    """One isolated brandpulse deployment: its own topics, group, data dir and web port."""

    env: dict[str, str]
    tmp: Path
    workers: list[Worker] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        from streams.core.settings import Settings

        values: dict[str, Any] = {}
        for k, v in self.env.items():
            if k.startswith("BRANDPULSE_") and not k.startswith("BRANDPULSE_TEST"):
                name, _, nested = k[len("BRANDPULSE_"):].lower().partition("__")  # KAFKA_SECURITY__PROTOCOL
                if nested:
                    values.setdefault(name, {})[nested] = v
                else:
                    values[name] = v
        return Settings(**values)

    @property
    def bootstrap(self) -> str:
        return self.env["BRANDPULSE_TEST_KAFKA"]

    def topic(self, key: str) -> str:
        return f"{self.env['BRANDPULSE_TOPIC_PREFIX']}.{key}"

    def worker(self, **extra_env: str) -> Worker:
        w = Worker({**self.env, **extra_env}, self.tmp / f"worker-{len(self.workers)}.log")
        self.workers.append(w)
        return w

    def store(self) -> ClickHouseStore:
        """Open the stack's chDB directly: only while no worker of it runs."""
        from streams.store.clickhouse import ClickHouseStore

        assert all(w.proc is None or w.proc.poll() is not None for w in self.workers), "stop the worker first"
        return ClickHouseStore(self.settings.clickhouse_dsn, self.settings.clickhouse_database)

    def produce(self, values: list[bytes], keys: list[bytes | None] | None = None, topic: str = "posts") -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=10)
        for i, v in enumerate(values):
            producer.send(self.topic(topic), key=keys[i] if keys else None, value=v)
        producer.flush()
        producer.close()

    def consume_all(self, key: str, expected: int, timeout_s: float = 30.0) -> list[bytes]:
        return read_topic(self.bootstrap, self.topic(key), expected, timeout_s)

    def group(self, roles: str = "score,store,watch") -> str:
        """The consumer group of the worker processes that run ``roles`` (default: the one-process worker)."""
        from streams.worker.role_names import group_id, parse_roles

        return group_id(self.env["BRANDPULSE_APP_ID"], parse_roles(roles))

    def committed(self, group: str, key: str) -> int:
        """Records of a topic the group is done with: the sum of its committed offsets. Once that is every
        record produced, nothing can be redelivered to the group."""
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            offsets = admin.list_group_offsets({group: None}).get(group, {})
        finally:
            admin.close()
        return sum(max(o.offset, 0) for tp, o in offsets.items() if tp.topic == self.topic(key))

    def count(self, key: str) -> int:
        """Records on a topic now, read to the end (Tansu's end offsets are not record counts)."""
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(self.topic(key), bootstrap_servers=self.bootstrap, group_id=None,
                                 auto_offset_reset="earliest", consumer_timeout_ms=2000)
        try:
            return sum(1 for _ in consumer)
        finally:
            consumer.close()

    def replay(self, df: pd.DataFrame, rate: float | None = None) -> None:
        """Airline CSV rows onto the posts topic, as ``brandpulse replay`` sends them."""
        from streams.kafka.replay import PRESET_TIME_FORMATS, PRESETS, replay, rows_to_posts

        posts = rows_to_posts(df, PRESETS["airline"], time_format=PRESET_TIME_FORMATS["airline"], platform="twitter")
        summary = replay(posts, settings=self.settings, topic=self.topic("posts"), rate=rate, progress=False)
        assert summary.sent == len(df) and summary.failed == 0


def stored_total(worker: Worker) -> int:
    return sum(worker.get("/brands").values())


def make_stack(tmp_path: Path, kafka_bootstrap: str, trained_model: Path, **extra_env: str) -> Stack:
    """A :class:`Stack` on this broker, its topics created; ``extra_env`` adds or overrides BRANDPULSE_* values."""
    from streams.kafka.topics import create_topics

    tag = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "BRANDPULSE_TEST_KAFKA": kafka_bootstrap,
        "BRANDPULSE_DATA_DIR": str(tmp_path / "state"),
        "BRANDPULSE_KAFKA_URL": f"kafka://{kafka_bootstrap}",
        "BRANDPULSE_TOPIC_PREFIX": f"t{tag}",
        "BRANDPULSE_APP_ID": f"bp-test-{tag}",
        "BRANDPULSE_WEB_PORT": str(free_port()),
        "BRANDPULSE_TRAINER_PORT": str(free_port()),  # a trainer a test starts; tests run side by side (xdist)
        "BRANDPULSE_MODEL_REF": str(trained_model),
        "BRANDPULSE_CHALLENGER_REF": "",
        "BRANDPULSE_BATCH_MAX": "128",
        "BRANDPULSE_BATCH_WITHIN_S": "0.3",
        "BRANDPULSE_MAX_LENGTH": "64",
        # Streaming tests score with fp32 torch: exact, and no backend timing for each model a test
        # trains. The auto choice has its own worker test (tests/e2e/test_worker_web.py).
        "BRANDPULSE_BACKEND": "torch",
        **extra_env,
    }
    s = Stack(env, tmp_path)
    create_topics(s.settings)
    return s


@pytest.fixture
def stack(tmp_path: Path, kafka_bootstrap: str, trained_model: Path) -> Iterator[Stack]:
    s = make_stack(tmp_path, kafka_bootstrap, trained_model)
    try:
        yield s
    finally:
        for w in s.workers:
            w.stop()
