"""The trainer's status endpoint: ``GET /status`` (:class:`~streams.services.trainer.TrainerStatus` as JSON).

Served from a thread of ``brandpulse trainer`` on ``Settings.trainer_host:trainer_port``, loopback by
default: pending requests, the retrain running and its phase, why requests wait (labels, a failed
version's cool-down), the last outcomes with their report directories, label counts and problems.
``GET /healthz`` says only that the process is alive. :func:`fetch_status` is the client (the demo's).

Authentication: the web parts are getting one token policy (``streams.core.web_auth``, not on this
branch yet). Until this server goes through it, :func:`check_bind` refuses any address but
loopback; with it, :func:`create_status_app` wraps the app in its guard and :func:`check_bind`
calls its ``require_safe_bind``, and :func:`fetch_status` sends its ``auth_headers``.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable
from typing import Any

from streams.core.settings import Settings
from streams.services.trainer import TrainerStatus


def _is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _base_url(settings: Settings) -> str:
    host = settings.trainer_host.strip().strip("[]")
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{'[' + host + ']' if ':' in host else host}:{settings.trainer_port}"


def check_bind(settings: Settings, host: str) -> None:
    """Refuse to serve the status beyond loopback without authentication (the hook for web_auth)."""
    if not _is_loopback(host):
        raise ValueError(
            f"the trainer status endpoint binds to loopback only for now (asked for {host!r}): it has no "
            "authentication yet; reach it through an SSH tunnel or a proxy that authenticates"
        )


def create_status_app(status: Callable[[], TrainerStatus]) -> Any:
    from fastapi import FastAPI

    app = FastAPI(title="brandpulse trainer", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/status", response_model=TrainerStatus)
    def get_status() -> TrainerStatus:
        return status()

    @app.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"alive": True}

    return app


class StatusServer:
    """uvicorn in a daemon thread of the trainer; ``stop()`` ends it."""

    def __init__(self, settings: Settings, status: Callable[[], TrainerStatus]) -> None:
        import uvicorn

        check_bind(settings, settings.trainer_host)
        config = uvicorn.Config(create_status_app(status), host=settings.trainer_host, port=settings.trainer_port,
                                log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.url = _base_url(settings)
        # uvicorn installs no signal handlers off the main thread: the trainer's own handle SIGTERM.
        self._thread = threading.Thread(target=self.server.run, name="brandpulse-trainer-status", daemon=True)

    def start(self, timeout_s: float = 30.0) -> StatusServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the trainer status endpoint could not start on {self.url} (port in use?)")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the trainer status endpoint did not start on {self.url} within {timeout_s:.0f}s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)


def fetch_status(settings: Settings, timeout_s: float = 5.0) -> TrainerStatus:
    """The running trainer's status; raises httpx errors when it does not answer."""
    import httpx

    response = httpx.get(f"{_base_url(settings)}/status", timeout=timeout_s)
    response.raise_for_status()
    return TrainerStatus.model_validate_json(response.content)
