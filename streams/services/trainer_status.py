"""The trainer's status endpoint: ``GET /status`` (:class:`~streams.services.trainer.TrainerStatus` as JSON).

Served from a thread of ``brandpulse trainer`` on ``Settings.trainer_host:trainer_port``, loopback by
default: pending requests, the retrain running and its phase, why requests wait (labels, a failed
version's cool-down), the last outcomes with their report directories, label counts and problems.
``GET /healthz`` says only that the process is alive. :func:`fetch_status` is the client (the demo's).

Authentication is the web parts' one policy (:mod:`streams.core.web_auth`): with ``BRANDPULSE_WEB_TOKEN``
set every request but ``/healthz`` needs it, and without one the endpoint refuses to listen beyond
loopback (unless ``web_allow_unauthenticated`` says a proxy in front authenticates).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from streams.core.settings import Settings
from streams.core.web_auth import AsgiGuard, auth_headers, require_safe_bind
from streams.services.trainer import TrainerStatus

SERVER = "the trainer status endpoint"


def _base_url(settings: Settings) -> str:
    host = settings.trainer_host.strip().strip("[]")
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{'[' + host + ']' if ':' in host else host}:{settings.trainer_port}"


def create_status_app(status: Callable[[], TrainerStatus], settings: Settings) -> Any:
    from fastapi import FastAPI

    app = FastAPI(title="brandpulse trainer", docs_url=None, redoc_url=None, openapi_url=None)
    if settings.web_token is not None:
        app.add_middleware(AsgiGuard, token=settings.web_token)

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

        require_safe_bind(settings, settings.trainer_host, SERVER)  # raises web_auth.UnsafeBind
        config = uvicorn.Config(create_status_app(status, settings), host=settings.trainer_host, port=settings.trainer_port,
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

    response = httpx.get(f"{_base_url(settings)}/status", headers=auth_headers(settings.web_token), timeout=timeout_s)
    response.raise_for_status()
    return TrainerStatus.model_validate_json(response.content)
