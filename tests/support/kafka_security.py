"""A test PKI, SASL users and the five ways a managed Kafka cluster asks to be reached, with secured brokers
(:mod:`tests.support.kafka_front` in front of Tansu) started per test and stopped after it."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from streams.core.settings import Settings
from tests.support.kafka_front import SecuredBroker, start_secured_broker
from tests.support.net import free_port

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
