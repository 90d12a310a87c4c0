"""The one-process default: every role in one worker, storing, publishing and observing each batch in place."""

from __future__ import annotations

import asyncio

from streams.core.schemas import HumanLabel
from streams.worker.pipeline import publish_stage, store_sync
from streams.worker.roles.watch import register_outcomes
from streams.worker.runtime import Runtime, hold, read_records


def register(runtime: Runtime) -> None:
    app, topics = runtime.app, runtime.topics
    register_outcomes(runtime)

    @app.agent(topics.posts, name="score_posts")
    async def score_posts(stream):  # type: ignore[no-untyped-def]
        """Posts → ClickHouse + scored/dead-letter topics + detectors (see :meth:`Runtime.score_stream`)."""
        await runtime.score_stream(stream)

    @app.agent(topics.labels, name="ingest_labels")
    async def ingest_labels(stream):  # type: ignore[no-untyped-def]
        """Human labels → ClickHouse + labelled-sample performance per model version; bad ones dead-lettered."""
        await runtime.ready.wait()
        assert runtime.store is not None and runtime.watcher is not None
        async for events in stream.take_events(500, within=1.0):
            hold(events)
            labels, bad = read_records(events, HumanLabel, "bad_label")
            if bad.dead:
                await asyncio.to_thread(store_sync, runtime.store, bad, lambda: runtime.stopping)
                await publish_stage(bad, runtime.store, runtime.publish, lambda: runtime.stopping)
                runtime.dead_letters += len(bad.dead)
            await runtime.watcher.observe_labels(labels)
            runtime.release(events)
