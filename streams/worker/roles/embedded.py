"""The one-process default: every role in one worker, storing, publishing and observing each batch in place."""

from __future__ import annotations

import asyncio
import logging

from streams.core.schemas import Alert, DeadLetter, HumanLabel
from streams.worker.pipeline import publish_stage, store_dead_letters, store_sync
from streams.worker.refusals import write_or_dead_letter
from streams.worker.roles.watch import register_outcomes
from streams.worker.runtime import Runtime, hold, read_records

log = logging.getLogger(__name__)


def register(runtime: Runtime) -> None:
    app, topics = runtime.app, runtime.topics
    register_outcomes(runtime)

    def stopping() -> bool:
        return runtime.stopping

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
                await asyncio.to_thread(store_sync, runtime.store, bad, stopping)
                await publish_stage(bad, runtime.store, runtime.publish, stopping)
                runtime.dead_letters += len(bad.dead)
            await runtime.watcher.observe_labels(labels)
            runtime.release(events)

    @app.agent(topics.alerts, name="store_announced_alerts")
    async def store_announced_alerts(stream):  # type: ignore[no-untyped-def]
        """Alerts other processes announce (the trainer's retrain outcomes, promotions) → ClickHouse.

        The dashboard shows what is stored. The worker's own alerts come back here too; the alerts
        table keeps one row per alert id, so they are not doubled.
        """
        await runtime.ready.wait()
        assert runtime.store is not None
        async for events in stream.take_events(500, within=1.0):
            hold(events)
            alerts, _ = read_records(events, Alert, "bad_alert")
            if alerts:
                await asyncio.to_thread(write_or_dead_letter, runtime.store, runtime.store.insert_alerts, alerts,
                                        topic=runtime.settings.topic("alerts"), what="alert", should_stop=stopping)
            runtime.release(events)

    @app.agent(topics.deadletter, name="store_announced_dead_letters")
    async def store_announced_dead_letters(stream):  # type: ignore[no-untyped-def]
        """Dead letters of records without a Kafka position made elsewhere (the trainer's ``bad_label``) → ClickHouse.

        This worker stores its own dead letters as it makes them; only the others are written here.
        """
        await runtime.ready.wait()
        assert runtime.store is not None
        async for events in stream.take_events(500, within=1.0):
            hold(events)
            dead = []
            for e in events:
                try:
                    dl = DeadLetter.model_validate_json(e.value or b"")
                except ValueError as exc:  # not re-dead-lettered: that would feed this very topic
                    log.error("unreadable record on the dead-letter topic at %s[%d]@%d: %s",
                              e.message.topic, e.message.partition, e.message.offset, exc)
                    continue
                if dl.partition == -1 and dl.error_kind == "bad_label":
                    dead.append(dl)
            if dead:
                await asyncio.to_thread(store_dead_letters, runtime.store, dead, stopping)
                runtime.announced_dead_letters += len(dead)
            runtime.release(events)
