"""The real Kafka-compatible broker for integration and end-to-end tests (tests/integration/conftest.py and
tests/e2e/conftest.py offer these fixtures; unit tests have no broker).

The broker is Tansu: the one listening on BRANDPULSE_TEST_KAFKA (default 127.0.0.1:9092), or, when none
listens, one this session starts and stops, saying so on the terminal. Each test gets its own topic
prefix, consumer group and data directory, so tests never see each other's records.
"""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from streams.kafka.broker import LocalBroker, host_port, is_listening

    bootstrap = os.environ.get("BRANDPULSE_TEST_KAFKA", "127.0.0.1:9092")
    host, port = host_port(bootstrap)
    if is_listening(host, port):
        yield bootstrap  # .ci/run (or the developer) started one
        return
    log_file = tmp_path_factory.mktemp("tansu") / "tansu.log"
    _say(request.config, f"\nno broker listens on {bootstrap}: starting Tansu for this session (log {log_file})")
    broker = LocalBroker(host, port, log_file=log_file)
    broker.start()
    try:
        yield bootstrap
    finally:
        broker.stop()
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
