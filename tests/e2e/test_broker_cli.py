"""`brandpulse broker --port P` creates the topics on the broker it started, not on BRANDPULSE_KAFKA_URL."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.support.data import REPO
from tests.support.net import free_port


def test_broker_on_another_port_creates_its_topics_there(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kafka import KafkaConsumer

    port = free_port()
    env = {**os.environ, "BRANDPULSE_KAFKA_URL": "kafka://127.0.0.1:1", "BRANDPULSE_TOPIC_PREFIX": "portcheck",
           "COLUMNS": "400"}
    proc = subprocess.Popen([sys.executable, "-m", "streams.cli.main", "--data-dir", str(tmp_path), "broker", "--port", str(port)],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        lines: list[str] = []
        while time.monotonic() < deadline and not any("created topics" in line for line in lines):
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            lines.append(line)
        assert any(f"127.0.0.1:{port}" in line and "portcheck.posts" in line for line in lines), "".join(lines)
        consumer = KafkaConsumer(bootstrap_servers=f"127.0.0.1:{port}")
        assert {"portcheck.posts", "portcheck.deadletter", "portcheck.model-events"} <= consumer.topics()
        consumer.close()
    finally:
        proc.terminate()
        proc.wait(30)
