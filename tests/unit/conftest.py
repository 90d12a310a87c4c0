"""Unit tests run without a broker, chDB server or any network. A socket that tries to reach anything but a
Unix socket raises NetworkBlocked at once, and the test fails even where a library swallows the error;
the broker fixtures are not defined for this folder at all."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest

from tests.support.kafka_security import pki

__all__ = ["pki"]

_attempts: list[str] = []
_call_failed = pytest.StashKey[bool]()


class NetworkBlocked(RuntimeError):
    """A unit test tried to use the network."""


def _refuse(what: str) -> NoReturn:
    _attempts.append(what)
    raise NetworkBlocked(
        f"unit tests run without network, and this one tried {what}. A test that needs the broker or a local "
        "server belongs in tests/integration; one that starts worker processes, in tests/e2e."
    )


def _is_local_name(host: Any) -> bool:
    if host is None or host == "localhost":
        return True
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host))
    except ValueError:
        return False
    return True


@pytest.fixture(scope="package", autouse=True)
def no_network() -> Iterator[None]:
    real_connect, real_connect_ex, real_sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if self.family != socket.AF_UNIX:
            _refuse(f"to connect to {address!r}")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family != socket.AF_UNIX:
            _refuse(f"to connect to {address!r}")
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, *args: Any) -> int:
        if self.family != socket.AF_UNIX:
            _refuse(f"to send a datagram to {args[-1]!r}")
        return real_sendto(self, *args)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_local_name(host):
            _refuse(f"to look up {host!r}")  # a DNS query is network traffic too
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", connect)
        mp.setattr(socket.socket, "connect_ex", connect_ex)
        mp.setattr(socket.socket, "sendto", sendto)
        mp.setattr(socket, "getaddrinfo", getaddrinfo)
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_call_failed] = report.failed
    return report


@pytest.fixture(autouse=True)
def no_swallowed_network_attempts(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails the test that tried the network even if the library it called caught NetworkBlocked."""
    del _attempts[:]
    yield
    tried, _attempts[:] = list(_attempts), []
    if tried and not request.node.stash.get(_call_failed, False):
        pytest.fail(f"a unit test tried the network: {'; '.join(tried)}", pytrace=False)
