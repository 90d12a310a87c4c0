"""Faust agents of the scoring worker.

``score_posts`` is the hot path: take a batch of raw records from the posts topic, score it with
:func:`streams.pipeline.prepare` while the previous batch goes through :func:`streams.pipeline.finish`,
and acknowledge each batch only when its ``finish`` returned, i.e. after the ClickHouse write and the
sends succeeded (at-least-once; the sink is idempotent).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable

from aiokafka import AIOKafkaConsumer

from streams.slack import SlackNotifier
from streams import prometheus as metrics
from streams.app import (
    alerts_topic,
    app,
    deadletter_topic,
    label_requests_topic,
    labels_topic,
    model_events_topic,
    posts_topic,
    retrain_topic,
    scored_topic,
    settings,
)
from streams.brand_watch import BrandWatcher
from streams.brands import BrandResolver
from streams.clickhouse import ClickHouseStore, redact
from streams.retry import retry_forever
from streams.pipeline import BatchContext, BatchResult, RawRecord, finish, prepare, publish_stage, reject, store_sync
from streams.schemas import DeadLetter, HumanLabel, ModelEvent, ScoredPost
from streams.serving import ModelSlots
from streams.topics import is_record_refused
from streams.watch import Watcher

log = logging.getLogger(__name__)


class Runtime:
    """What the agents share inside one worker process: storage, models, brand rules."""

    def __init__(self) -> None:
        self.slots = ModelSlots(settings)
        self.resolver = BrandResolver.from_file(settings.brand_rules)
        self.store: ClickHouseStore | None = None
        self.watcher: Watcher | None = None
        self.brand_watcher: BrandWatcher | None = None
        self.notifier = SlackNotifier(settings.slack_webhook_url)
        self.ready = asyncio.Event()
        self.stopping = False
        self.batches = 0
        self.posts_scored = 0
        self.posts_unscored = 0  # stored with their language, not scored (a language the model does not read)
        self.dead_letters = 0

    async def start(self) -> None:
        dsn = settings.clickhouse_dsn
        log.info("opening ClickHouse at %s", redact(dsn))
        self.store = await asyncio.to_thread(
            retry_forever, lambda: ClickHouseStore(dsn, settings.clickhouse_database), what="ClickHouse connect"
        )
        await asyncio.to_thread(retry_forever, self.store.ensure_schema, what="ClickHouse schema")
        await self.slots.load_initial()
        await self.notifier.start()
        self.watcher = Watcher(settings, self.store, send_to_topic, self.notifier, lambda: self.slots.current)
        self.brand_watcher = BrandWatcher(settings, self.store, send_to_topic, self.notifier, self.resolver.groups)
        await self.sync_watcher_models()
        self.ready.set()

    async def sync_watcher_models(self) -> None:
        """Give drift and model-health detection the reference of every model now served."""
        assert self.watcher is not None
        serving = self.slots.current
        for scorer in (serving.champion, serving.challenger):
            if scorer is not None:
                await self.watcher.model_loaded(scorer)


runtime = Runtime()


@app.task
async def start_runtime() -> None:
    try:
        await runtime.start()
    except Exception as exc:
        log.error("worker cannot start: %s", exc)
        await app.crash(exc)


_TOPICS = {
    "alerts": alerts_topic,
    "label-requests": label_requests_topic,
    "retrain-requests": retrain_topic,
}


async def send_to_topic(key: str, record_key: bytes | None, value: bytes) -> None:
    await _TOPICS[key].send(key=record_key, value=value)


async def publish(result: BatchResult) -> list[tuple[ScoredPost | DeadLetter, BaseException]]:
    """Send scored rows and dead letters; return those Kafka refused. Unavailability raises (retried)."""
    sent: list[tuple[ScoredPost | DeadLetter, Awaitable[object]]] = []
    refused: list[tuple[ScoredPost | DeadLetter, BaseException]] = []
    outgoing = [(scored_topic, r.post_id, r) for r in result.scored + result.unscored] + [
        (deadletter_topic, d.post_id, d) for d in result.dead
    ]
    for topic, key, record in outgoing:
        try:
            sent.append((record, await topic.send(key=key.encode() if key else None, value=record.model_dump_json().encode())))
        except Exception as exc:  # noqa: BLE001 - classified: refused records are returned, the rest retried
            if not is_record_refused(exc):
                raise
            refused.append((record, exc))
    # The batch is acknowledged right after we return: make sure these records left the process.
    await app.producer.flush()
    for record, delivery in sent:
        try:
            await delivery
        except Exception as exc:  # noqa: BLE001 - as above, for errors the broker reports on delivery
            if not is_record_refused(exc):
                raise
            refused.append((record, exc))
    return refused


def hold(events) -> None:  # type: ignore[no-untyped-def]
    """Keep a batch from being committed until :func:`release`.

    Faust's ``take_events`` acks a batch when the loop moves on *or* when it is torn down (a crash, a
    shutdown while storage is down). One extra reference per message means its ack only becomes
    final after our release, so a batch that was not handled stays uncommitted and is redelivered.
    """
    for event in events:
        event.message.incref()


def release(events) -> None:  # type: ignore[no-untyped-def]
    """Drop the extra reference: ``take_events`` then acks the batch as it moves on."""
    for event in events:
        event.message.decref()


@app.agent(posts_topic)
async def score_posts(stream):  # type: ignore[no-untyped-def]
    """Score batch N+1 while batch N is stored, published and observed; acknowledge each when its effects are done.

    At most two batches are in flight, effects run in batch order, and a batch is released (made
    committable) only by its own completion, so overlapping costs no delivery guarantee.
    """
    await runtime.ready.wait()
    assert runtime.store is not None and runtime.watcher is not None and runtime.brand_watcher is not None
    context = dict(
        resolver=runtime.resolver, store=runtime.store, publish=publish,
        observers=[runtime.watcher.observe_batch, runtime.brand_watcher.observe_batch],
        max_text_chars=settings.max_text_chars, keep_unknown_brand=settings.unknown_brand == "keep",
        languages=settings.language_config, should_stop=lambda: runtime.stopping,
    )
    effects: asyncio.Task[None] | None = None
    try:
        async for events in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            hold(events)
            records = [
                RawRecord(e.value, e.key, e.message.topic, e.message.partition, e.message.offset) for e in events
            ]
            started = time.perf_counter()
            ctx = BatchContext(serving=runtime.slots.current, **context)
            prepared = await prepare(records, ctx)
            if effects is not None:
                await effects
            effects = asyncio.create_task(_complete(events, records, prepared, ctx, started))
    finally:
        if effects is not None:
            await effects


async def _complete(events, records: list[RawRecord], prepared: BatchResult | None, ctx: BatchContext, started: float) -> None:  # type: ignore[no-untyped-def]
    result = await finish(records, prepared, ctx)
    release(events)
    metrics.record_batch(result, time.perf_counter() - started)
    runtime.batches += 1
    runtime.posts_scored += len(result.scored)
    runtime.posts_unscored += len(result.unscored)
    runtime.dead_letters += len(result.dead)


@app.agent(labels_topic)
async def ingest_labels(stream):  # type: ignore[no-untyped-def]
    """Human labels → ClickHouse + labelled-sample performance per model version; bad ones dead-lettered."""
    await runtime.ready.wait()
    assert runtime.store is not None and runtime.watcher is not None
    async for events in stream.take_events(500, within=1.0):
        hold(events)
        labels: list[HumanLabel] = []
        bad = BatchResult()
        for e in events:
            try:
                labels.append(HumanLabel.model_validate_json(e.value or b""))
            except ValueError as exc:
                m = e.message
                bad.dead.append(reject(RawRecord(e.value, e.key, m.topic, m.partition, m.offset), "bad_label", str(exc)))
        if bad.dead:
            await asyncio.to_thread(store_sync, runtime.store, bad, lambda: runtime.stopping)
            await publish_stage(bad, runtime.store, publish, lambda: runtime.stopping)
            runtime.dead_letters += len(bad.dead)
        await runtime.watcher.observe_labels(labels)
        release(events)


@app.timer(interval=30.0)
async def save_watch_state() -> None:
    if runtime.watcher is not None:
        await asyncio.to_thread(runtime.watcher.save)


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
            assert runtime.watcher is not None
            if event.action == "retrain-closed":
                if not event.retrain_for:
                    log.error("ignoring retrain-closed event at offset %d: it names no model version", msg.offset)
                elif runtime.watcher.coalescer.complete(event.retrain_for):
                    log.info("retrain for %s closed without a new model (%s)", event.retrain_for, event.reason)
                continue
            champion_before = runtime.slots.current.champion.version
            try:
                await runtime.slots.apply(event.role, event.action, event.model_ref)
            except Exception:  # noqa: BLE001 - keep serving the current models
                log.exception("could not apply model event %s; still serving the previous models", event)
                continue
            await runtime.sync_watcher_models()
            if event.role == "challenger":  # the retrain it asked for is done
                runtime.watcher.coalescer.complete(event.retrain_for or champion_before)
    finally:
        await consumer.stop()


@app.on_before_shutdown.connect
async def _on_shutdown(app_, **kwargs) -> None:  # type: ignore[no-untyped-def]
    runtime.stopping = True
    if runtime.watcher is not None:
        await asyncio.to_thread(runtime.watcher.save)
    if runtime.brand_watcher is not None:
        await runtime.brand_watcher.aclose()
    await runtime.notifier.aclose()
