"""The one-process default: every role in one worker, storing, publishing and observing each batch in place."""

from __future__ import annotations

import asyncio

from streams.worker.runtime import hold, publish, read_records, release, runtime, score_stream
from streams.worker.app import app, labels_topic, posts_topic
from streams.worker.pipeline import publish_stage, store_sync
from streams.core.schemas import HumanLabel


@app.agent(posts_topic)
async def score_posts(stream):  # type: ignore[no-untyped-def]
    """Posts → ClickHouse + scored/dead-letter topics + detectors (see :func:`streams.worker.runtime.score_stream`)."""
    await score_stream(stream)


@app.agent(labels_topic)
async def ingest_labels(stream):  # type: ignore[no-untyped-def]
    """Human labels → ClickHouse + labelled-sample performance per model version; bad ones dead-lettered."""
    await runtime.ready.wait()
    assert runtime.store is not None and runtime.watcher is not None
    async for events in stream.take_events(500, within=1.0):
        hold(events)
        labels, bad = read_records(events, HumanLabel, "bad_label")
        if bad.dead:
            await asyncio.to_thread(store_sync, runtime.store, bad, lambda: runtime.stopping)
            await publish_stage(bad, runtime.store, publish, lambda: runtime.stopping)
            runtime.dead_letters += len(bad.dead)
        await runtime.watcher.observe_labels(labels)
        release(events)
