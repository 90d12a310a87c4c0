"""Faust agents of the scoring worker.

``score_posts`` is the hot path: take a batch of raw records from the posts topic, hand it to
:func:`streams.pipeline.handle_batch`, and let Faust acknowledge the batch only when that returned,
i.e. after the ClickHouse write succeeded (at-least-once; the sink is idempotent).
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer

from streams.app import app, deadletter_topic, model_events_topic, posts_topic, scored_topic, settings
from streams.brands import BrandResolver
from streams.clickhouse import ClickHouseStore, redact, retry_forever
from streams.pipeline import BatchResult, RawRecord, handle_batch
from streams.schemas import ModelEvent
from streams.serving import ModelSlots

log = logging.getLogger(__name__)


class Runtime:
    """What the agents share inside one worker process: storage, models, brand rules."""

    def __init__(self) -> None:
        self.slots = ModelSlots(settings)
        self.resolver = BrandResolver.from_file(settings.brand_rules)
        self.store: ClickHouseStore | None = None
        self.ready = asyncio.Event()
        self.stopping = False
        self.batches = 0
        self.posts_scored = 0
        self.dead_letters = 0

    async def start(self) -> None:
        dsn = settings.clickhouse_dsn
        log.info("opening ClickHouse at %s", redact(dsn))
        self.store = await asyncio.to_thread(
            retry_forever, lambda: ClickHouseStore(dsn, settings.clickhouse_database), what="ClickHouse connect"
        )
        await asyncio.to_thread(retry_forever, self.store.ensure_schema, what="ClickHouse schema")
        await self.slots.load_initial()
        self.ready.set()


runtime = Runtime()


@app.task
async def start_runtime() -> None:
    try:
        await runtime.start()
    except Exception as exc:
        log.error("worker cannot start: %s", exc)
        await app.crash(exc)


async def publish(result: BatchResult) -> None:
    for row in result.scored:
        await scored_topic.send(key=row.post_id.encode(), value=row.model_dump_json().encode())
    for dl in result.dead:
        await deadletter_topic.send(key=(dl.post_id or "").encode() or None, value=dl.model_dump_json().encode())
    # The batch is acknowledged right after we return: make sure these records left the process.
    await app.producer.flush()


@app.agent(posts_topic)
async def score_posts(stream):  # type: ignore[no-untyped-def]
    await runtime.ready.wait()
    async for events in stream.take_events(settings.batch_max, within=settings.batch_within_s):
        records = [
            RawRecord(e.value, e.key, e.message.topic, e.message.partition, e.message.offset) for e in events
        ]
        assert runtime.store is not None
        result = await handle_batch(
            records,
            runtime.slots.current,
            runtime.resolver,
            runtime.store,
            publish=publish,
            max_text_chars=settings.max_text_chars,
            keep_unknown_brand=settings.unknown_brand == "keep",
            should_stop=lambda: runtime.stopping,
        )
        runtime.batches += 1
        runtime.posts_scored += len(result.scored)
        runtime.dead_letters += len(result.dead)


@app.task
async def follow_model_events() -> None:
    """Every worker must see every model event, so this reads the topic outside the consumer group."""
    await runtime.ready.wait()
    consumer = AIOKafkaConsumer(
        model_events_topic.get_topic_name(), bootstrap_servers=settings.kafka_bootstrap,
        group_id=None, auto_offset_reset="latest", enable_auto_commit=False,
    )
    await consumer.start()
    try:
        async for msg in consumer:
            try:
                event = ModelEvent.model_validate_json(msg.value)
            except ValueError as exc:
                log.error("ignoring malformed model event at offset %d: %s", msg.offset, exc)
                continue
            try:
                await runtime.slots.apply(event.role, event.action, event.model_ref)
            except Exception:  # noqa: BLE001 - keep serving the current models
                log.exception("could not apply model event %s; still serving the previous models", event)
    finally:
        await consumer.stop()


@app.on_before_shutdown.connect
async def _on_shutdown(app_, **kwargs) -> None:  # type: ignore[no-untyped-def]
    runtime.stopping = True
