"""The real Kafka-compatible broker for integration and end-to-end tests (tests/integration/conftest.py and
tests/e2e/conftest.py offer these fixtures; unit tests have no broker).

The broker is Tansu: the one listening on BRANDPULSE_TEST_KAFKA (default 127.0.0.1:9092), or, when none
listens, one this session starts and stops, saying so on the terminal. Each test gets its own topic
prefix, consumer group and data directory, so tests never see each other's records.
"""

from __future__ import annotations

import fcntl
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.core.settings import Settings


def _say(config: pytest.Config, line: str) -> None:
    """A line on the terminal even while pytest captures the test's output (fixtures run under capture)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line, yellow=True)


def pid_file(port: int) -> Path:
    """Where the broker a test session started records its pid (one per port, shared by xdist workers)."""
    return Path(tempfile.gettempdir()) / f"brandpulse-test-broker-{port}.pid"


def stop_started_broker(port: int) -> bool:
    """Stop the broker a test session started on this port, if any; True when one was stopped."""
    path = pid_file(port)
    try:
        pid = int(path.read_text())
    except (FileNotFoundError, ValueError):
        return False
    path.unlink(missing_ok=True)
    try:
        os.killpg(pid, signal.SIGTERM)  # Tansu runs in its own session (LocalBroker)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from streams.kafka.broker import LocalBroker, host_port, is_listening

    bootstrap = os.environ.get("BRANDPULSE_TEST_KAFKA", "127.0.0.1:9092")
    host, port = host_port(bootstrap)
    # Under pytest-xdist every worker runs this fixture: the first starts the broker, the others find it
    # listening; it outlives the worker that started it and the controller stops it (tests/conftest.py).
    with open(pid_file(port).with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the with block ends, before the tests run
        if not is_listening(host, port):  # else .ci/run, the developer or another worker started one
            log_file = tmp_path_factory.mktemp("tansu") / "tansu.log"
            _say(request.config, f"\nno broker listens on {bootstrap}: starting Tansu for this session (log {log_file})")
            broker = LocalBroker(host, port, log_file=log_file)
            broker.start()
            assert broker.proc is not None
            pid_file(port).write_text(str(broker.proc.pid))
    yield bootstrap
    if os.environ.get("PYTEST_XDIST_WORKER") is None and stop_started_broker(port):
        _say(request.config, f"\nstopped the Tansu broker this session started on {bootstrap}")


@pytest.fixture
def kafka_settings(kafka_bootstrap: str, tmp_path: Path) -> Settings:
    """Settings with this test's own topics (created), consumer groups and data dir, for in-process Kafka tests."""
    from streams.kafka.topics import create_topics

    tag = uuid.uuid4().hex[:8]
    s = Settings(kafka_url=f"kafka://{kafka_bootstrap}", topic_prefix=f"t{tag}", app_id=f"bp-{tag}", data_dir=tmp_path / "state")
    create_topics(s)
    return s


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
