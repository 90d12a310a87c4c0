"""Kafka over TLS, mutual TLS and SASL (PLAIN, SCRAM-SHA-256/512) for every client library, on a real broker.

Each test gets a Tansu broker of its own behind :mod:`tests.support.kafka_front` (TLS with a test CA made by
trustme, SASL users), which Tansu advertises so that clients reconnect through it. Nothing is mocked:
the clients are the project's own (aiokafka, kafka-python) configured only through
``Settings.kafka_security``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streams.kafka import security
from streams.kafka.security import KafkaConnectError, check_connection
from tests.support.kafka_front import SecuredBroker
from tests.support.kafka_security import USERS, Pki, modes, settings_for


# ------------------------------------------------------------------ every client library, every mode


@pytest.mark.parametrize("mode", ["tls", "mtls", "plain-over-tls", "scram-256", "scram-512-over-tls"])
def test_clients_round_trip(mode: str, pki: Pki, secured: Callable[..., SecuredBroker], tmp_path: Path) -> None:
    from aiokafka import AIOKafkaConsumer
    from kafka import KafkaProducer

    from streams.kafka.group import group_consumer
    from streams.kafka.topics import create_topics

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
