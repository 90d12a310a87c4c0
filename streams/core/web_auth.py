"""Who may call the web parts: the API, the dashboard, the worker's views and every ``/metrics``.

One policy for all of them. A server that binds beyond loopback needs a token
(``BRANDPULSE_WEB_TOKEN``), or it refuses to start, unless ``web_allow_unauthenticated`` says that
something in front of it authenticates. With a token set, every request must carry it, as
``Authorization: Bearer <token>`` or as the password of basic auth (any user name; browsers
prompt for it, so the dashboard works in one). Comparison is constant-time and a refusal is a
401 that says nothing about why.

The health endpoints (:data:`OPEN_PATHS`) stay open: orchestrators probe them (compose
healthchecks, Kubernetes probes) and cannot easily hold a secret, and they say only whether the
process is alive or ready (the API's ``/readyz`` also names the model it serves), never data.

Framework-free: :class:`AsgiGuard` wraps the FastAPI apps, :func:`aiohttp_guard` is the middleware
of the worker's Faust (aiohttp) web server.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

if TYPE_CHECKING:
    from streams.core.settings import Settings

log = logging.getLogger(__name__)

#: Liveness/readiness probes: answered without a token (see the module docstring).
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
#: Both challenges: API clients and Prometheus send a bearer token, a browser prompts for basic auth.
CHALLENGES = ('Bearer realm="brandpulse"', 'Basic realm="brandpulse", charset="UTF-8"')
#: The same body whatever was wrong (missing, malformed or wrong credentials).
REFUSAL = json.dumps({"error": "unauthorized"}).encode()


class UnsafeBind(RuntimeError):
    """A server was asked to listen beyond loopback without authentication."""


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach: 127.0.0.0/8, ::1 (also IPv4-mapped) and ``localhost``.

    Any other name counts as reachable from outside: what it resolves to is not known here, and
    ``0.0.0.0``, ``::`` and an empty host mean every interface.
    """
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is no address part
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def check_bind(settings: Settings, host: str, server: str) -> str | None:
    """Why ``server`` may not listen on ``host`` with these settings, or None when it may."""
    if settings.web_token is not None or settings.web_allow_unauthenticated or is_loopback(host):
        return None
    return (
        f"refusing to start {server} on {host or 'every interface'} without authentication: set BRANDPULSE_WEB_TOKEN "
        "(e.g. the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`, in the environment, "
        "an .env file or /run/secrets/brandpulse_web_token), bind to 127.0.0.1, or set "
        "BRANDPULSE_WEB_ALLOW_UNAUTHENTICATED=true if a proxy in front of it authenticates"
    )


def require_safe_bind(settings: Settings, host: str, server: str) -> None:
    """:func:`check_bind`, raising :class:`UnsafeBind` with its reason; an allowed open bind is logged."""
    if error := check_bind(settings, host, server):
        raise UnsafeBind(error)
    if settings.web_token is None and not is_loopback(host):
        log.warning("%s listens on %s without authentication (web_allow_unauthenticated is set)", server, host)


def token_ok(authorization: str | None, token: SecretStr) -> bool:
    """Whether an ``Authorization`` header carries the token (bearer, or basic auth's password)."""
    if not authorization:
        return False
    scheme, _, credentials = authorization.strip().partition(" ")
    expected = token.get_secret_value().encode()
    scheme = scheme.lower()
    if scheme == "bearer":
        return hmac.compare_digest(credentials.strip().encode(), expected)
    if scheme == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        _, colon, password = decoded.partition(b":")
        return hmac.compare_digest(password, expected) and bool(colon)
    return False


def auth_headers(token: SecretStr | None) -> dict[str, str]:
    """What a client of the web parts sends (``settings.web_token``): the bearer token when one is configured."""
    return {} if token is None else {"Authorization": f"Bearer {token.get_secret_value()}"}


# ------------------------------------------------------------------ the two servers' adapters

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class AsgiGuard:
    """ASGI middleware: every HTTP request but :data:`OPEN_PATHS` needs the token (FastAPI's /docs and 404s too).

    Outermost, so a refused request is answered before its body is read or any route runs.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], token: SecretStr,
                 open_paths: frozenset[str] = OPEN_PATHS) -> None:
        self.app, self.token, self.open_paths = app, token, open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope.get("headers") or [] if k == b"authorization"), None)
        if token_ok(header.decode("latin-1") if header is not None else None, self.token):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(REFUSAL)).encode())]
        headers += [(b"www-authenticate", c.encode()) for c in CHALLENGES]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": REFUSAL})


def aiohttp_guard(token: SecretStr, open_paths: frozenset[str] = OPEN_PATHS) -> Any:
    """aiohttp middleware with the same rule, for the worker's Faust web server (Faust's own pages too)."""
    from aiohttp import web
    from multidict import CIMultiDict

    @web.middleware
    async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if request.path in open_paths or token_ok(request.headers.get("Authorization"), token):
            return await handler(request)
        headers = CIMultiDict([("WWW-Authenticate", c) for c in CHALLENGES])
        return web.Response(status=401, body=REFUSAL, content_type="application/json", headers=headers)

    return guard
