"""Kafka security settings without a broker: from .env and secret files, whole in a child's environment, and
inconsistent combinations refused without echoing the password."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from streams.core.settings import KafkaSecurity, Settings
from tests.support.kafka_security import USERS, Pki


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
