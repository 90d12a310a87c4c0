"""HTTP views on the worker's loopback web port.

With embedded chDB only the worker may open the data directory, so other processes (the CLI's
``trends``, the dashboard) ask the worker here. Against a ClickHouse server they may query it directly.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.web import Request, Response, View

from streams.agents import runtime
from streams.app import app
from streams.trends import brand_counts, query_trends


def _store_or_503(view: View) -> Any:
    if runtime.store is None or not runtime.ready.is_set():
        return None
    return runtime.store


@app.page("/healthz")
async def healthz(self: View, request: Request) -> Response:
    return self.json({"ok": True, "ready": runtime.ready.is_set()})


@app.page("/stats")
async def stats(self: View, request: Request) -> Response:
    serving = runtime.slots.current if runtime.ready.is_set() else None
    return self.json(
        {
            "ready": runtime.ready.is_set(),
            "batches": runtime.batches,
            "posts_scored": runtime.posts_scored,
            "dead_letters": runtime.dead_letters,
            "champion": serving.champion.version if serving else None,
            "challenger": serving.challenger.version if serving and serving.challenger else None,
        }
    )


@app.page("/trends")
async def trends(self: View, request: Request) -> Response:
    store = _store_or_503(self)
    if store is None:
        return self.json({"error": "worker is starting"}, status=503)
    q = request.query
    try:
        data = await asyncio.to_thread(
            query_trends, store, brand=q.get("brand") or None, since=q.get("since", "6h"),
            bucket=q.get("bucket", "15m"), until=q.get("until", "now"),
        )
    except ValueError as exc:
        return self.json({"error": str(exc)}, status=400)
    return self.json(data)


@app.page("/brands")
async def brands(self: View, request: Request) -> Response:
    store = _store_or_503(self)
    if store is None:
        return self.json({"error": "worker is starting"}, status=503)
    return self.json(await asyncio.to_thread(brand_counts, store))
