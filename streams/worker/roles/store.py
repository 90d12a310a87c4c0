"""The ``store`` role: everything that must land in ClickHouse, read from its topic and written idempotently.

Scored records (champion, shadow, unscored), dead letters, alerts, label requests and human labels.
Every table is a ReplacingMergeTree keyed by the record's identity, so a batch redelivered after a
crash is written again without duplicates; a batch is acknowledged only after its insert. A row
ClickHouse refuses becomes a ``storage_rejected`` dead letter (stored and published), as in the
embedded worker. With an embedded chDB directory run one store process; against a ClickHouse server,
any number (they share the topics' partitions in one consumer group).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import BaseModel

from streams.core.schemas import Alert, DeadLetter, HumanLabel, LabelRequest, ScoredPost
from streams.worker.pipeline import BatchResult, publish_stage, reject, store_dead_letters, store_sync
from streams.worker.refusals import write_or_dead_letter
from streams.worker.runtime import Runtime, hold, raw, read_records

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
# Inserts are cheap next to scoring: larger batches than the scoring batch mean fewer, bigger parts.
BATCH = 1000


def register(runtime: Runtime) -> None:
    app, topics = runtime.app, runtime.topics

    def stopping() -> bool:
        return runtime.stopping

    async def _publish_dead_letters(bad: BatchResult) -> None:
        """Publish and count the dead letters this role made itself (records it could not read or write),
        once they are stored; Kafka's refusals join ``bad.dead`` (stripped) and count too."""
        if bad.dead:
            await publish_stage(bad, runtime.store, runtime.publish, stopping)
            runtime.dead_letters += len(bad.dead)

    @app.agent(topics.scored, name="store_scored")
    async def store_scored(stream):  # type: ignore[no-untyped-def]
        await runtime.ready.wait()
        assert runtime.store is not None
        async for events in stream.take_events(BATCH, within=runtime.settings.batch_within_s):
            hold(events)
            result = BatchResult()
            for e in events:
                rec = raw(e)
                try:
                    row = ScoredPost.model_validate_json(e.value or b"")
                except ValueError as exc:
                    result.dead.append(reject(rec, "schema", f"not a scored record: {exc}"))
                    continue
                {"shadow": result.shadow, "unscored": result.unscored}.get(row.model_role, result.scored).append(row)
                if row.model_role != "shadow":
                    result.sources[row.post_id] = rec
            # Rows the store refuses join the unreadable records in result.dead, and all of them are stored.
            await asyncio.to_thread(store_sync, runtime.store, result, stopping)
            await _publish_dead_letters(BatchResult(dead=result.dead))  # the scored rows are on their topic already
            runtime.rows_stored += len(result.scored) + len(result.shadow) + len(result.unscored)
            runtime.posts_scored += len(result.scored)
            runtime.posts_unscored += len(result.unscored)
            runtime.batches += 1
            runtime.release(events)

    @app.agent(topics.deadletter, name="store_dead_letters_topic")
    async def store_dead_letters_topic(stream):  # type: ignore[no-untyped-def]
        await runtime.ready.wait()
        assert runtime.store is not None
        async for events in stream.take_events(BATCH, within=runtime.settings.batch_within_s):
            hold(events)
            dead: list[DeadLetter] = []
            for e in events:
                try:
                    dead.append(DeadLetter.model_validate_json(e.value or b""))
                except ValueError as exc:
                    # Not re-dead-lettered (that would feed this very topic); the record stays in Kafka at its offset.
                    log.error("unreadable record on the dead-letter topic at %s[%d]@%d: %s",
                              e.message.topic, e.message.partition, e.message.offset, exc)
            await asyncio.to_thread(store_dead_letters, runtime.store, dead, stopping)
            runtime.release(events)

    async def _store_records(stream, model: type[M], insert: Callable[[Sequence[M]], None], kind: str, key: str) -> None:  # type: ignore[no-untyped-def]
        """Monitoring records: rows the store refuses and unreadable records are dead-lettered."""
        await runtime.ready.wait()
        async for events in stream.take_events(500, within=1.0):
            hold(events)
            rows, bad = read_records(events, model, kind)
            await asyncio.to_thread(
                write_or_dead_letter, runtime.store, insert, rows, topic=runtime.settings.topic(key), what=model.__name__,
                should_stop=stopping,
            )
            await asyncio.to_thread(store_dead_letters, runtime.store, bad.dead, stopping)
            await _publish_dead_letters(bad)
            runtime.release(events)

    @app.agent(topics.alerts, name="store_alerts")
    async def store_alerts(stream):  # type: ignore[no-untyped-def]
        await _store_records(stream, Alert, lambda rows: runtime.store.insert_alerts(rows), "bad_alert", "alerts")  # type: ignore[union-attr]

    @app.agent(topics.label_requests, name="store_label_requests")
    async def store_label_requests(stream):  # type: ignore[no-untyped-def]
        await _store_records(stream, LabelRequest, lambda rows: runtime.store.insert_label_requests(rows), "bad_label_request", "label-requests")  # type: ignore[union-attr]

    @app.agent(topics.labels, name="store_labels")
    async def store_labels(stream):  # type: ignore[no-untyped-def]
        await _store_records(stream, HumanLabel, lambda rows: runtime.store.insert_human_labels(rows), "bad_label", "labels")  # type: ignore[union-attr]
