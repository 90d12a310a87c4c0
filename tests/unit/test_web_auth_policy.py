"""The web parts' authentication policy: which hosts are loopback, when a bind beyond it is refused, which
headers carry the token, and that the token never shows."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner

from streams.cli.main import create_cli
from streams.core.settings import Settings
from streams.core.web_auth import check_bind, is_loopback, token_ok
from tests.support.net import free_port
from tests.support.web_auth import NO_TOKEN, TOKEN, WRONG, basic


@pytest.mark.parametrize("host", ["127.0.0.1", "127.10.20.30", "::1", "[::1]", "localhost", "LocalHost", "::ffff:127.0.0.1"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "10.1.2.3", "192.168.0.7", "fe80::1%eth0", "watch", "example.com", "127.0.0.1.nip.io"])
def test_hosts_beyond_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_binding_beyond_loopback_without_a_token_is_refused(tmp_path: Path) -> None:
    error = check_bind(Settings(data_dir=tmp_path), "0.0.0.0", "the inference API")
    assert error is not None and "BRANDPULSE_WEB_TOKEN" in error and "the inference API" in error


@pytest.mark.parametrize(
    "update", [{"web_token": TOKEN}, {"web_allow_unauthenticated": True}], ids=["token", "explicitly-allowed"]
)
def test_binding_beyond_loopback_with_a_token_or_explicit_consent(tmp_path: Path, update: dict[str, object]) -> None:
    assert check_bind(Settings(data_dir=tmp_path, **update), "0.0.0.0", "the dashboard") is None


def test_loopback_needs_no_token(tmp_path: Path) -> None:
    assert check_bind(Settings(data_dir=tmp_path), "127.0.0.1", "the dashboard") is None


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer   {TOKEN} ", True),
        (basic("brandpulse", TOKEN), True),
        (basic("anyone", TOKEN), True),
        (None, False),
        ("", False),
        ("Bearer", False),
        (f"Bearer {WRONG}", False),
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN[:-1]}", False),
        (f"Token {TOKEN}", False),
        (TOKEN, False),
        (basic(TOKEN, ""), False),
        (basic("brandpulse", WRONG), False),
        ("Basic " + base64.b64encode(TOKEN.encode()).decode(), False),  # no user:password colon
        ("Basic ***not-base64***", False),
        ("Bearer tök€n", False),
    ],
)
def test_token_check(header: str | None, ok: bool) -> None:
    assert token_ok(header, SecretStr(TOKEN)) is ok


def test_token_from_a_secret_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "brandpulse_web_token").write_text(TOKEN + "\n")
    monkeypatch.delenv("BRANDPULSE_WEB_TOKEN", raising=False)
    monkeypatch.setenv("BRANDPULSE_SECRETS_DIR", str(tmp_path))
    token = Settings(data_dir=tmp_path).web_token
    assert token is not None and token.get_secret_value() == TOKEN


def test_a_short_token_is_refused_without_echoing_it(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        Settings(data_dir=tmp_path, web_token="hunter2-short")
    assert "at least 16" in str(err.value) and "hunter2" not in str(err.value)


def test_the_token_never_shows_in_the_settings() -> None:
    settings = Settings(web_token=TOKEN)
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.model_dump())


@pytest.mark.parametrize("command", ["api", "dashboard"])
def test_services_refuse_to_bind_beyond_loopback_without_a_token(command: str, tmp_path: Path) -> None:
    env = {**NO_TOKEN, "BRANDPULSE_DATA_DIR": str(tmp_path), "BRANDPULSE_SECRETS_DIR": str(tmp_path)}
    result = CliRunner().invoke(create_cli(), [command, "--host", "0.0.0.0", "--port", str(free_port())], env=env)
    assert result.exit_code == 2 and "without authentication: set BRANDPULSE_WEB_TOKEN" in result.output, result.output
