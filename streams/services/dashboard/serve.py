"""The standalone dashboard service (FastAPI) and the ``brandpulse dashboard`` command.

The pages it serves are built by :mod:`streams.views.dashboard`, like the worker's own dashboard pages."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from streams.core.brand_rules import BrandResolver
from streams.views.dashboard.gather import gather_dashboard
from streams.views.dashboard.model import DashboardData, DashboardQuery
from streams.views.dashboard.respond import build_data, build_page
from streams.services.dashboard.worker_client import fetch_from_worker, served_by_worker, worker_url
from streams.core.settings import Settings
from streams.core.web_auth import AsgiGuard
from streams.store.open import is_embedded, open_store
from streams.store.protocol import Store

def create_dashboard_app(
    settings: Settings,
    store: Store | None = None,
    served: Callable[[], Mapping[str, str | None] | None] | None = None,
) -> FastAPI:
    """The standalone dashboard (FastAPI): direct ClickHouse reads when it may, else the worker's data.

    ``store`` is used as given (not closed); otherwise a ClickHouse server URL is opened here, and
    embedded chDB is read through the worker's web port.
    """
    base = worker_url(settings)
    token = settings.web_token  # the worker asks for the same token as this dashboard
    groups = BrandResolver.from_file(settings.brand_rules).groups
    ask_worker = served or (lambda: served_by_worker(base, token=token))
    direct = store is not None or not is_embedded(settings.clickhouse_dsn)
    state: dict[str, Store] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        owned = store is None and direct
        if store is not None:
            state["store"] = store
        elif direct:
            opened = await asyncio.to_thread(open_store, settings.clickhouse_dsn, settings.clickhouse_database)
            # The worker creates the schema too; doing it here lets the dashboard start first.
            await asyncio.to_thread(opened.ensure_schema, settings.retention)
            state["store"] = opened
        try:
            yield
        finally:
            if owned and "store" in state:
                state["store"].close()

    def load(query: DashboardQuery) -> DashboardData:
        if "store" in state:
            return gather_dashboard(state["store"], query, ask_worker(), source="clickhouse", groups=groups)
        return fetch_from_worker(base, query, token=token)

    app = FastAPI(title="brandpulse dashboard", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/dashboard")

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "source": "clickhouse" if direct else f"worker {base}"}

    @app.get("/dashboard", response_class=HTMLResponse)
    async def dashboard(request: Request) -> HTMLResponse:
        status, body = await asyncio.to_thread(build_page, dict(request.query_params), load)
        return HTMLResponse(body, status_code=status)

    @app.get("/dashboard/data")
    async def dashboard_data(request: Request) -> JSONResponse:
        status, body = await asyncio.to_thread(build_data, dict(request.query_params), load)
        return JSONResponse(body, status_code=status)

    if token is not None:  # every page but /healthz; a browser asks for basic auth (the token as password)
        app.add_middleware(AsgiGuard, token=token)
    return app
