"""HTTP views on the worker's loopback web port.

With embedded chDB only the worker may open the data directory, so other processes (the CLI's
``trends``, the dashboard) ask the worker here. Against a ClickHouse server they may query it directly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import psutil
from faust.web import Request, Response, View
from pydantic import ValidationError

from models.memory import heap_stats
from streams.kafka.erasures import publish_erased
from streams.views.brand_queries import share_report, voices_report, why_report
from streams.store.protocol import ErasureRequest, Store, erase_everywhere
from streams.views.dashboard import DashboardData, DashboardQuery, DashboardUnavailable, build_data, build_page, gather_dashboard
from streams.worker.runtime import Runtime
from streams.core.cpu_report import cpu_report
from streams.core.metrics import METRICS
from streams.views.trends import query_trends

log = logging.getLogger(__name__)


def register_views(runtime: Runtime) -> None:
    """The worker's HTTP views on its Faust web server; each reads the runtime, none blocks the loop."""
    app = runtime.app

    def _ready_store() -> Store | None:
        """The worker's store once models and storage are up; None while it is starting."""
        if runtime.store is None or not runtime.ready.is_set():
            return None
        return runtime.store

    @app.page("/healthz")
    async def healthz(self: View, request: Request) -> Response:
        return self.json({"ok": True, "ready": runtime.ready.is_set()})

    @app.page("/stats")
    async def stats(self: View, request: Request) -> Response:
        serving = runtime.slots.current if runtime.slots.ready.is_set() else None  # a store-only process loads no model
        return self.json(
            {
                "ready": runtime.ready.is_set(),
                "batches": runtime.batches,
                "posts_scored": runtime.posts_scored,
                "posts_unscored": runtime.posts_unscored,
                "dead_letters": runtime.dead_letters,
                "announced_dead_letters": runtime.announced_dead_letters,
                "alerts": runtime.watcher.alerts_raised if runtime.watcher else 0,
                "alerts_suppressed": runtime.watcher.episodes.suppressed if runtime.watcher else 0,
                "label_requests": runtime.watcher.label_requests if runtime.watcher else 0,
                "retrains_in_flight": runtime.watcher.coalescer.versions_in_flight() if runtime.watcher else [],
                "slack_delivered": runtime.notifier.delivered,
                "shadow_report": runtime.watcher.shadow_report.model_dump() if runtime.watcher and runtime.watcher.shadow_report else None,
                "brand_watch": runtime.brand_watcher.stats() if runtime.brand_watcher else None,
                "health": runtime.watcher.health.stats() if runtime.watcher else None,
                "roles": sorted(runtime.roles),
                "rows_stored": runtime.rows_stored,
                "watch_seen": runtime.seen.stats() if runtime.seen else None,
                "champion": serving.champion.version if serving else None,
                "challenger": serving.challenger.version if serving and serving.challenger else None,
                "scoring_backend": runtime.slots.backends if serving else None,
                "partitions": _assignment(),
            }
        )

    def _assignment() -> dict[str, list[int]]:
        """The partitions this process's consumer holds now, by topic name: which process of a
        scaled-out role owns what (empty between a rebalance's revoke and its assignment)."""
        held: dict[str, list[int]] = {}
        for tp in app.consumer.assignment():
            held.setdefault(tp.topic, []).append(tp.partition)
        return {topic: sorted(parts) for topic, parts in sorted(held.items())}

    @app.page("/cpu")
    async def cpu(self: View, request: Request) -> Response:
        """CPU seconds by stage and by thread group since start (``bench pipeline`` diffs two); apart from
        /stats, which tests and benchmarks poll, because it reads every thread's /proc entry."""
        return self.json(cpu_report())

    @app.page("/memory")
    async def memory(self: View, request: Request) -> Response:
        """RSS and where it sits (glibc's heap in use and held free, Python's live blocks), for soak runs
        and operators watching a months-long process."""
        return self.json({
            "rss_mb": psutil.Process().memory_info().rss / 2**20,
            "heap_mb": heap_stats(),
            "python_blocks": sys.getallocatedblocks(),
        })

    async def _view(self: View, query, **params) -> Response:  # type: ignore[no-untyped-def]
        """Run a store query off the event loop: 503 while the worker starts, 400 with the reason for bad parameters."""
        store = _ready_store()
        if store is None:
            return self.json({"error": "worker is starting"}, status=503)
        try:
            return self.json(await asyncio.to_thread(query, store, **params))
        except ValueError as exc:
            return self.json({"error": str(exc)}, status=400)

    @app.page("/trends")
    async def trends(self: View, request: Request) -> Response:
        q = request.query
        return await _view(self, query_trends, brand=q.get("brand") or None, since=q.get("since", "6h"),
                           bucket=q.get("bucket", "15m"), until=q.get("until", "now"))

    @app.page("/brands")
    async def brands(self: View, request: Request) -> Response:
        return await _view(self, lambda store: store.post_counts())

    @app.page("/why")
    async def why(self: View, request: Request) -> Response:
        """The "why" of a brand's recent posts: ?brand=United&since=1h[&until=latest][&baseline=12h][&focus=negative]."""
        q = request.query
        if not q.get("brand"):
            return self.json({"error": "brand is required, e.g. /why?brand=United&since=1h"}, status=400)
        return await _view(self, why_report, brand=q["brand"], since=q.get("since", "1h"), until=q.get("until", "now"),
                           baseline=q.get("baseline", "12h"), focus=q.get("focus") or None)

    @app.page("/share")
    async def share(self: View, request: Request) -> Response:
        """Share of voice in a brand group: ?group=US airlines&since=1d&bucket=1h[&until=latest]."""
        q = request.query
        return await _view(self, lambda store, **kw: share_report(store, runtime.resolver.groups, **kw), group=q.get("group", ""),
                           since=q.get("since", "1d"), bucket=q.get("bucket", "1h"), until=q.get("until", "now"))

    @app.page("/voices")
    async def voices(self: View, request: Request) -> Response:
        """Raw mentions vs distinct texts and authors: ?brand=United&since=1d&bucket=1h[&until=latest]."""
        q = request.query
        if not q.get("brand"):
            return self.json({"error": "brand is required, e.g. /voices?brand=United&since=1d"}, status=400)
        return await _view(self, voices_report, brand=q["brand"], since=q.get("since", "1d"), bucket=q.get("bucket", "1h"),
                           until=q.get("until", "now"))

    def _served() -> dict[str, str | None] | None:
        if not runtime.slots.ready.is_set():
            return None
        serving = runtime.slots.current
        return {"champion": serving.champion.version, "challenger": serving.challenger.version if serving.challenger else None}

    def _load_dashboard(query: DashboardQuery) -> DashboardData:
        if runtime.store is None or not runtime.ready.is_set():
            raise DashboardUnavailable("the worker is starting (loading models and opening ClickHouse); retry in a few seconds")
        return gather_dashboard(runtime.store, query, _served(), source="worker", groups=runtime.resolver.groups)

    @app.page("/dashboard")
    async def dashboard(self: View, request: Request) -> Response:
        status, body = await asyncio.to_thread(build_page, dict(request.query), _load_dashboard)
        return self.html(body, status=status)

    @app.page("/dashboard/data")
    async def dashboard_data(self: View, request: Request) -> Response:
        status, body = await asyncio.to_thread(build_data, dict(request.query), _load_dashboard)
        return self.json(body, status=status)

    class Erase(View):
        """POST /erase with a JSON :class:`ErasureRequest`: erase a person's data (``brandpulse erase``).

        A write, so POST with a JSON body only: a web page elsewhere cannot make a browser send one
        to this port without a CORS preflight, which the worker does not answer."""

        async def post(self, request: Request) -> Response:
            if not runtime.opens_store:
                return self.json({"error": "this worker does not run the store role; ask the one that does"}, status=409)
            store = _ready_store()
            if store is None:
                return self.json({"error": "worker is starting"}, status=503)
            if request.content_type != "application/json":
                return self.json({"error": "send the erasure request as application/json"}, status=415)
            try:
                erasure = ErasureRequest.model_validate(await request.json())
            except json.JSONDecodeError as exc:
                return self.json({"error": f"not an erasure request: {exc}"}, status=400)
            except ValidationError as exc:  # without the input: it may be the very name to erase
                problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                return self.json({"error": f"not an erasure request: {problems}"}, status=400)
            try:
                report = await asyncio.to_thread(
                    erase_everywhere, store, erasure, lambda ids: publish_erased(runtime.settings, ids)
                )
            except Exception as exc:  # noqa: BLE001 - Kafka or ClickHouse unavailable: the operator runs it again
                log.error("erasure failed: %s: %s", type(exc).__name__, exc)
                return self.json({"error": f"the erasure did not finish ({type(exc).__name__}: {exc}); "
                                           "run it again (erasing twice is safe)"}, status=503)
            return self.json(report.model_dump(mode="json"))

    app.page("/erase")(Erase)

    @app.page("/metrics")
    async def metrics_page(self: View, request: Request) -> Response:
        served = _served()
        METRICS.ready.set(1 if served else 0)
        if served:
            METRICS.set_models(served["champion"], served["challenger"])
            METRICS.set_backends(runtime.slots.backends)
        body, content_type = METRICS.render()
        # aiohttp refuses a charset inside content_type=, and Prometheus' type carries one: set the header.
        return self.bytes(body, headers={"Content-Type": content_type})
