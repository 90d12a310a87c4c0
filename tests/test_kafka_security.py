"""Kafka over TLS, mutual TLS and SASL (PLAIN, SCRAM-SHA-256/512) for every client, on a real broker.

Each test gets a Tansu broker of its own behind :mod:`tests.kafka_front` (TLS with a test CA made by
trustme, SASL users), which Tansu advertises so that clients reconnect through it. Nothing is mocked:
the clients are the project's own (Faust worker, aiokafka, kafka-python) configured only through
``Settings.kafka_security``.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from pydantic import ValidationError

from streams.core.settings import KafkaSecurity, Settings
from streams.kafka import security
from streams.kafka.security import KafkaConnectError, check_connection
from tests.conftest import REPO, free_port, make_stack
from tests.kafka_front import SecuredBroker, start_secured_broker

USERS = {"alice": "alice-Secret-1", "bob": "bob-Secret-2"}


@dataclass(frozen=True)
class Pki:
    ca: Path  # signed the broker's certificate and the client's
    other_ca: Path  # signed nothing here: trusting only it must fail
    client: Path  # client certificate + key (PEM), CN=brandpulse-client
    server_tls: Callable[[bool], ssl.SSLContext]  # require a client certificate or not


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca, other = trustme.CA(), trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    other.cert_pem.write_to_path(str(d / "other-ca.pem"))
    ca.issue_cert("brandpulse-client", common_name="brandpulse-client").private_key_and_cert_chain_pem.write_to_path(
        str(d / "client.pem"))

    def server_tls(require_client_cert: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.configure_cert(ctx)
        ca.configure_trust(ctx)  # client certificates are checked against the same CA
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
        return ctx

    return Pki(d / "ca.pem", d / "other-ca.pem", d / "client.pem", server_tls)


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Callable[..., SecuredBroker]]:
    started: list[SecuredBroker] = []

    def start(**kwargs: Any) -> SecuredBroker:
        broker = start_secured_broker(free_port(), free_port(), tmp_path / "tansu.log", **kwargs)
        started.append(broker)
        return broker

    yield start
    for broker in started:
        broker.stop()


# The five ways a managed cluster asks to be reached: (front arguments, client security settings).
def modes(pki: Pki) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    return {
        "tls": ({"tls": pki.server_tls(False)}, {"protocol": "SSL", "ssl_cafile": pki.ca}),
        "mtls": ({"tls": pki.server_tls(True)}, {"protocol": "SSL", "ssl_cafile": pki.ca, "ssl_certfile": pki.client}),
        "plain-over-tls": ({"tls": pki.server_tls(False), "users": USERS},
                           {"protocol": "SASL_SSL", "ssl_cafile": pki.ca, "sasl_mechanism": "PLAIN",
                            "sasl_username": "alice", "sasl_password": USERS["alice"]}),
        "scram-256": ({"users": USERS}, {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256",
                                         "sasl_username": "alice", "sasl_password": USERS["alice"]}),
        "scram-512-over-tls": ({"tls": pki.server_tls(False), "users": USERS},
                               {"protocol": "SASL_SSL", "ssl_cafile": pki.ca, "sasl_mechanism": "SCRAM-SHA-512",
                                "sasl_username": "bob", "sasl_password": USERS["bob"]}),
    }


def settings_for(broker: SecuredBroker, tmp_path: Path, kafka_security: dict[str, Any]) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(kafka_url=f"kafka://{broker.bootstrap}", kafka_security=kafka_security, topic_prefix=f"s{tag}",
                    app_id=f"bp-sec-{tag}", data_dir=tmp_path / "state")


# ------------------------------------------------------------------ settings


def test_settings_come_from_dotenv_and_secret_files(tmp_path: Path, pki: Pki) -> None:
    (tmp_path / ".env").write_text(
        "BRANDPULSE_KAFKA_SECURITY__PROTOCOL=SASL_SSL\nBRANDPULSE_KAFKA_SECURITY__SASL_MECHANISM=SCRAM-SHA-512\n"
        f"BRANDPULSE_KAFKA_SECURITY__SASL_USERNAME=bob\nBRANDPULSE_KAFKA_SECURITY__SSL_CAFILE={pki.ca}\n"
    )
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "brandpulse_kafka_security__sasl_password").write_text(USERS["bob"])
    got = Settings(_env_file=tmp_path / ".env", _secrets_dir=secrets).kafka_security
    assert (got.protocol, got.sasl_mechanism, got.sasl_username, got.sasl_password.get_secret_value(), got.ssl_cafile) == (
        "SASL_SSL", "SCRAM-SHA-512", "bob", USERS["bob"], pki.ca)


def test_settings_travel_to_a_child_process_whole(pki: Pki) -> None:
    s = Settings(kafka_security={"protocol": "SASL_SSL", "ssl_cafile": pki.ca, "sasl_mechanism": "SCRAM-SHA-256",
                                 "sasl_username": "alice", "sasl_password": USERS["alice"]})
    env = s.as_env()
    nested = {k.split("__", 1)[1].lower(): v for k, v in env.items() if k.startswith("BRANDPULSE_KAFKA_SECURITY__")}
    assert KafkaSecurity(**nested) == s.kafka_security


@pytest.mark.parametrize("given", [
    {"protocol": "SASL_SSL", "sasl_username": "alice"},  # no password
    {"protocol": "PLAINTEXT", "ssl_cafile": "CA"},  # a CA that would be ignored: no TLS
    {"protocol": "SASL_PLAINTEXT", "sasl_username": "alice", "sasl_password": "hunter2-x", "ssl_certfile": "CA"},
    {"protocol": "PLAINTEXT", "sasl_username": "alice", "sasl_password": "hunter2-x"},  # credentials never sent
    {"protocol": "SSL", "ssl_cafile": "/nonexistent/ca.pem"},
])
def test_inconsistent_security_is_refused_without_echoing_the_password(given: dict[str, Any], pki: Pki) -> None:
    given = {k: (pki.ca if v == "CA" else v) for k, v in given.items()}
    with pytest.raises(ValidationError) as err:
        Settings(kafka_security=given)
    assert "hunter2" not in str(err.value)


def test_secrets_stay_out_of_repr_logs_and_the_config_command(tmp_path: Path, pki: Pki) -> None:
    s = Settings(kafka_security={"protocol": "SASL_SSL", "ssl_cafile": pki.ca, "sasl_mechanism": "PLAIN",
                                 "sasl_username": "alice", "sasl_password": USERS["alice"]})
    shown = repr(s) + str(s) + s.kafka_security.describe() + s.model_dump_json()
    # The command line reads the password from a secret file (--secrets-dir), the rest from the environment.
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "brandpulse_kafka_security__sasl_password").write_text(USERS["alice"])
    env = {k: v for k, v in s.as_env().items() if not k.endswith("SASL_PASSWORD")}
    out = subprocess.run([sys.executable, "-m", "streams.cli.main", "--secrets-dir", str(secrets), "config"],
                         env={**env, "PATH": "/usr/bin:/bin", "COLUMNS": "300"}, cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert (out.returncode, USERS["alice"] in shown + out.stdout + out.stderr) == (0, False), out.stderr[-2000:]


# ------------------------------------------------------------------ every client library, every mode


@pytest.mark.parametrize("mode", ["tls", "mtls", "plain-over-tls", "scram-256", "scram-512-over-tls"])
def test_clients_round_trip(mode: str, pki: Pki, secured: Callable[..., SecuredBroker], tmp_path: Path) -> None:
    from aiokafka import AIOKafkaConsumer
    from kafka import KafkaProducer

    from streams.kafka.topics import create_topics, group_consumer

    front_args, client = modes(pki)[mode]
    broker = secured(**front_args)
    s = settings_for(broker, tmp_path, client)
    create_topics(s)  # kafka-python admin
    producer = security.open_client(KafkaProducer, s, acks="all")
    producer.send(s.topic("labels"), b"one").get(15)
    producer.close()

    async def aiokafka_reads() -> bytes:
        consumer = AIOKafkaConsumer(s.topic("labels"), **security.client_options(s), group_id=None,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            return (await asyncio.wait_for(consumer.getone(), 20)).value
        finally:
            await consumer.stop()

    consumer = group_consumer(s, "labels", group="check", client_id="check")  # kafka-python, in a group
    deadline, seen = time.monotonic() + 30, []
    while not seen and time.monotonic() < deadline:
        seen = [m.value for batch in consumer.poll(timeout_ms=500).values() for m in batch]
    consumer.close()
    expected = {"tls": None, "mtls": "cert:brandpulse-client", "plain-over-tls": "alice", "scram-256": "alice",
                "scram-512-over-tls": "bob"}[mode]
    principals = set(broker.front.principals)  # who the listener saw: the SASL user or the certificate
    assert (asyncio.run(aiokafka_reads()), seen, principals) == (b"one", [b"one"], {expected} if expected else set())


# ------------------------------------------------------------------ one clear error, within seconds


@pytest.mark.parametrize("case, front, client, cause", [
    ("wrong password", "scram", {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "bob",
                                 "sasl_password": "not-bobs-password"}, "authentication failed for user 'bob'"),
    ("unknown user", "scram", {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256", "sasl_username": "eve",
                               "sasl_password": "not-bobs-password"}, "authentication failed for user 'eve'"),
    ("wrong PLAIN password", "scram", {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "sasl_username": "bob",
                                       "sasl_password": "not-bobs-password"}, "authentication failed"),
    ("untrusted CA", "tls", {"protocol": "SSL", "ssl_cafile": "OTHER"}, "TLS certificate is not trusted by the CA file"),
    ("no client certificate", "mtls", {"protocol": "SSL", "ssl_cafile": "CA"}, "requires client certificates"),
    ("TLS listener, no TLS", "tls", {"protocol": "PLAINTEXT"}, "do not speak TLS"),
])
def test_a_refused_connection_is_one_clear_error_within_seconds(
    case: str, front: str, client: dict[str, Any], cause: str, pki: Pki, secured: Callable[..., SecuredBroker],
    tmp_path: Path,
) -> None:
    front_args = {"scram": {"users": USERS}, "tls": {"tls": pki.server_tls(False)}, "mtls": {"tls": pki.server_tls(True)}}
    client = {k: {"OTHER": pki.other_ca, "CA": pki.ca}.get(v, v) if isinstance(v, str) else v for k, v in client.items()}
    s = settings_for(secured(**front_args[front]), tmp_path, client)
    started = time.monotonic()
    with pytest.raises(KafkaConnectError) as err:
        check_connection(s)
    took = time.monotonic() - started
    assert (cause in str(err.value), "not-bobs-password" in str(err.value), took < 5) == (True, False, True), (
        str(err.value), took)


def test_worker_with_a_wrong_password_exits_with_one_line(secured: Callable[..., SecuredBroker], tmp_path: Path) -> None:
    broker = secured(users=USERS)
    s = settings_for(broker, tmp_path, {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                                        "sasl_username": "bob", "sasl_password": "not-bobs-password"})
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "streams.cli.main", "worker"], env={"PATH": "/usr/bin:/bin", **s.as_env()},
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert (out.returncode, len(errors), "authentication failed for user 'bob'" in out.stderr,
            "not-bobs-password" in out.stdout + out.stderr, "Traceback" in out.stderr) == (2, 1, True, False, False), (
        out.stderr[-3000:], took)


# ------------------------------------------------------------------ worker, trainer and replay end to end


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["mtls", "scram-512-over-tls"])
def test_worker_trainer_and_replay_end_to_end(mode: str, pki: Pki, secured: Callable[..., SecuredBroker],
                                             tmp_path: Path, trained_model: Path) -> None:
    import pandas as pd

    from streams.kafka.replay import PRESET_TIME_FORMATS, PRESETS, replay, rows_to_posts
    from streams.services.labeller import LabelPublisher
    from streams.services.trainer import TrainerWorker
    from drift.records import HumanLabel
    from tests.conftest import AIRLINE_CSV, needs_shared_data

    needs_shared_data()
    front_args, client = modes(pki)[mode]
    broker = secured(**front_args)
    env = {f"BRANDPULSE_KAFKA_SECURITY__{k.upper()}": str(v) for k, v in client.items()}
    stack = make_stack(tmp_path, broker.bootstrap, trained_model, **env)
    try:
        worker = stack.worker().start()
        df = pd.read_csv(AIRLINE_CSV, dtype=str, keep_default_na=False).drop_duplicates("tweet_id").sample(200, random_state=5)
        posts = rows_to_posts(df, PRESETS["airline"], time_format=PRESET_TIME_FORMATS["airline"], platform="twitter")
        summary = replay(posts, settings=stack.settings, topic=stack.topic("posts"), progress=False)
        worker.wait_for(lambda w: sum(w.get("/brands").values()) >= 200, timeout_s=240, what="200 posts stored")

        trainer, stop = TrainerWorker(stack.settings), threading.Event()
        loop = threading.Thread(target=trainer.run, args=(stop,), daemon=True)
        loop.start()
        publish = LabelPublisher(stack.settings)
        for post in posts[:20]:
            publish(HumanLabel(post_id=post["post_id"], label="neutral", annotator="test", text=post["text"]))
        publish.close()
        deadline = time.monotonic() + 60
        while len(trainer.labels) < 20 and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        loop.join(30)
        worker.stop()
        log = worker.log_path.read_text(errors="replace")
    finally:
        for w in stack.workers:
            w.stop()
    secret = client.get("sasl_password", "\0")
    assert (summary.sent, len(trainer.labels), secret in log, "Kafka reachable" in log) == (200, 20, False, True)
