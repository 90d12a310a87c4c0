"""What every worker process shares, whatever roles it runs: models, storage, detectors, Kafka sends.

The agents themselves live with their role (:mod:`streams.worker.roles.embedded` for the one-process
default, :mod:`streams.worker.roles.score`, :mod:`streams.worker.roles.store`,
:mod:`streams.worker.roles.watch`); :func:`streams.worker.main.create_worker` registers those the
settings ask for. A :class:`Runtime` opens only what those roles need: a scoring-only process never
opens ClickHouse, a store-only process loads no model.

Acknowledgement: Faust's ``take_events`` acks a batch when its loop moves on; :func:`hold` and
:meth:`Runtime.release` make that ack final only when the batch's effects are done (scored records
and dead letters flushed to Kafka, rows inserted, detector state saved), so a batch that was not
handled is redelivered, never skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from typing import TypeVar

import faust
import numpy as np
from aiokafka import AIOKafkaConsumer
from pydantic import BaseModel

from models.cpu_stages import stage
from models.files import atomic_write_text
from models.memory import trim_heap
from streams.core import metrics
from streams.core.brand_rules import BrandResolver
from streams.core.schemas import DeadLetter, ModelEvent, ScoredPost, ScoredRecord, carries_vector, pack_vector
from streams.core.model_slots import ModelSlots
from streams.core.settings import Settings
from streams.kafka.batches import BadBatch, guard_consumer
from streams.kafka.security import client_options
from streams.kafka.topics import is_record_refused
from streams.slack.notifier import SlackNotifier
from streams.store.fatal_signals import crash_on_fatal_signals
from streams.store.open import check_dsn, open_store, redact
from streams.store.protocol import Store
from streams.worker.app import Topics
from streams.worker.brand_watch import BrandWatcher
from streams.worker.consumer import on_undecodable
from streams.worker.dead_letters import dead_letter
from streams.worker.model_watch import Watcher
from streams.worker.pipeline import (
    BatchContext,
    BatchResult,
    Observer,
    RawRecord,
    finish,
    prepare,
    publish_stage,
    reject,
    store_dead_letters,
)
from streams.worker.relay_store import RelayStore
from streams.worker.retry import retry_forever
from streams.worker.role_names import is_embedded, parse_roles
from streams.worker.seen_posts import SeenPosts

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


def hold(events) -> None:  # type: ignore[no-untyped-def]
    """Keep a batch from being committed until :meth:`Runtime.release`.

    Faust's ``take_events`` acks a batch when the loop moves on *or* when it is torn down (a crash, a
    shutdown while storage is down). One extra reference per message means its ack only becomes
    final after our release, so a batch that was not handled stays uncommitted and is redelivered.
    """
    for event in events:
        event.message.incref()


def raw(event) -> RawRecord:  # type: ignore[no-untyped-def]
    m = event.message
    return RawRecord(event.value, event.key, m.topic, m.partition, m.offset)


def read_records(events, model: type[M], kind: str) -> tuple[list[M], BatchResult]:  # type: ignore[no-untyped-def]
    """Each event's value as a ``model``; the unreadable ones as ``kind`` dead letters with the reason."""
    rows: list[M] = []
    bad = BatchResult()
    for e in events:
        try:
            rows.append(model.model_validate_json(e.value or b""))
        except ValueError as exc:
            bad.dead.append(reject(raw(e), kind, str(exc)))
    return rows, bad


def _timed_trim() -> None:
    with stage("heap trim"):
        trim_heap()


class Runtime:
    """What the agents share inside one worker process: storage, models, brand rules, detectors."""

    def __init__(self, settings: Settings, app: faust.App, topics: Topics) -> None:
        self.settings = settings
        self.app = app
        self.topics = topics
        self.roles = parse_roles(settings.roles)
        self.slots = ModelSlots(settings)
        self.resolver = BrandResolver.from_file(settings.brand_rules)
        self.store: Store | None = None
        self.watcher: Watcher | None = None
        self.brand_watcher: BrandWatcher | None = None
        self.seen: SeenPosts | None = None
        self._saving = asyncio.Lock()  # one save at a time: the seen ids and the detectors must stay in step
        self.notifier = SlackNotifier(settings.slack_webhook_url)
        self.ready = asyncio.Event()
        self.stopping = False
        self.batches = 0
        self.posts_scored = 0
        self.posts_unscored = 0  # stored with their language, not scored (a language the model does not read)
        self.dead_letters = 0
        self.announced_dead_letters = 0  # made by other processes (the trainer's bad labels), stored here
        self.rows_stored = 0  # store role: scored rows inserted (every role, shadow included)

    def register(self) -> None:
        """The tasks every worker runs whatever its roles: start-up, model events, state saves, shutdown."""
        self.app.task(self._start_or_crash)
        self.app.task(self.follow_model_events)
        self.app.timer(interval=30.0, name="save_watch_state")(self._save_embedded_watch_state)
        if self.settings.heap_trim_interval_s > 0:
            self.app.timer(interval=self.settings.heap_trim_interval_s, name="trim_heap")(self._trim_heap)
        self.app.on_before_shutdown.connect(self._on_shutdown)
        on_undecodable(self.app, self.dead_letter_batch)

    @property
    def opens_store(self) -> bool:
        """Only the store role writes ClickHouse (and, with chDB, may open its directory at all)."""
        return "store" in self.roles

    async def _start_or_crash(self) -> None:
        try:
            await self.start()
        except Exception as exc:
            log.error("worker cannot start: %s", exc)
            await self.app.crash(exc)

    async def start(self) -> None:
        settings = self.settings
        if self.opens_store:
            dsn = settings.clickhouse_dsn
            log.info("opening ClickHouse at %s", redact(dsn))
            check_dsn(dsn)  # a wrong scheme is a configuration error, not an outage to wait out
            self.store = await asyncio.to_thread(
                retry_forever, lambda: open_store(dsn, settings.clickhouse_database), what="ClickHouse connect"
            )
            crash_on_fatal_signals()  # chDB, loaded in that thread, took the fatal signals for the whole process
            store = self.store
            await asyncio.to_thread(retry_forever, lambda: store.ensure_schema(settings.retention), what="ClickHouse schema")
        if self.roles & {"score", "watch"}:
            await self.slots.load_initial()
        if "watch" in self.roles:
            await self.notifier.start()
            store = self.store or RelayStore()
            self.watcher = Watcher(settings, store, self.send_to_topic, self.notifier, lambda: self.slots.current)  # type: ignore[arg-type]
            self.brand_watcher = BrandWatcher(settings, store, self.send_to_topic, self.notifier, self.resolver.groups,  # type: ignore[arg-type]
                                              autosave=False)
            self.seen = SeenPosts(settings.watch_dedupe_posts, settings.state_dir / "drift" / "seen.json")
            await self.sync_watcher_models()
        log.info("worker roles: %s", ", ".join(sorted(self.roles)))
        self.ready.set()

    async def sync_watcher_models(self) -> None:
        """Give drift and model-health detection the reference of every model now served."""
        if self.watcher is None:
            return
        serving = self.slots.current
        served = [s for s in (serving.champion, serving.challenger) if s is not None]
        for scorer in served:
            await self.watcher.model_loaded(scorer)
        self.watcher.retire_versions({s.version for s in served})

    async def observe_scored(self, rows: Sequence[ScoredPost], vectors: Mapping[str, np.ndarray] | None = None) -> None:
        """Give the champion's scored rows to every detector, each post once however often it arrives;
        the champion's and the shadow's verdicts on the random sample to the watcher's verdict ledger
        (which counts a redelivered verdict once itself).

        ``vectors``: the rows' sentence vectors, from this process's forward pass (embedded) or sent along
        by the scoring processes (the watch role; only the share ``scored_vector_share`` carries one).
        """
        assert self.seen is not None and self.watcher is not None and self.brand_watcher is not None
        try:
            await self.watcher.observe_verdicts(rows)
        except Exception:  # noqa: BLE001 - monitoring must never stop scoring
            log.exception("the verdict ledger failed on a batch")
        fresh = self.seen.fresh([r for r in rows if r.model_role == "champion"])
        if not fresh:
            return
        batch = BatchResult(scored=fresh, vectors=dict(vectors or {}))
        for observe in (self.watcher.observe_batch, self.brand_watcher.observe_batch):
            try:
                await observe(batch)
            except Exception:  # noqa: BLE001 - monitoring must never stop scoring
                log.exception("observer %r failed on a batch", observe)

    async def save_watch_state(self) -> None:
        """The seen post ids first, then the detectors: a crash in between can only forget posts, never
        count one twice (saved detector state never holds a post the saved ids lack)."""
        if self.watcher is None or self.seen is None or self.brand_watcher is None:
            return
        async with self._saving:
            await asyncio.to_thread(atomic_write_text, self.seen.path, self.seen.snapshot())
            await asyncio.to_thread(self.watcher.save)
            await asyncio.to_thread(self.brand_watcher.save)

    async def _save_embedded_watch_state(self) -> None:
        # A watch-only process saves with each acknowledgement instead (streams.worker.roles.watch).
        if is_embedded(self.roles):
            await self.save_watch_state()

    async def _trim_heap(self) -> None:
        await asyncio.to_thread(_timed_trim)

    async def dead_letter_batch(self, bad: BadBatch) -> None:
        """A batch that could not be decoded (and is skipped): one dead letter for its offsets, stored and published.

        Stored here when this process writes ClickHouse, published in any case (the store role stores
        what reaches the dead-letter topic; the table's key makes a second copy one row).
        """
        log.error("dead-lettering undecodable batch %s[%d] offsets %d..%d: %s",
                  bad.topic, bad.partition, bad.first_offset, bad.last_offset, bad.reason)
        await self.ready.wait()
        dl = dead_letter(kind="undecodable_batch", reason=bad.reason, topic=bad.topic, partition=bad.partition,
                         offset=bad.first_offset, last_offset=bad.last_offset, key=None, value=None)
        result = BatchResult(dead=[dl])
        if self.store is not None:
            await asyncio.to_thread(store_dead_letters, self.store, result.dead, lambda: self.stopping)
        await publish_stage(result, self.store, self.publish, lambda: self.stopping)
        metrics.METRICS.dead_letters.labels(dl.error_kind).inc()
        self.dead_letters += 1

    def scoring_context(self) -> dict[str, object]:
        """What :class:`BatchContext` needs besides the models: embedded, it stores and observes in place."""
        # Shadow rows too: the verdict ledger judges the challenger on them (the detectors skip them).
        observers: list[Observer] = [lambda result: self.observe_scored(result.scored + result.shadow, result.vectors)] if self.watcher else []
        settings = self.settings
        return dict(
            resolver=self.resolver, store=self.store if is_embedded(self.roles) else None, publish=self.publish,
            observers=observers, max_text_chars=settings.max_text_chars,
            keep_unknown_brand=settings.unknown_brand == "keep", languages=settings.language_config,
            should_stop=lambda: self.stopping,
        )

    async def send_to_topic(self, key: str, record_key: bytes | None, value: bytes) -> None:
        topic = {"alerts": self.topics.alerts, "label-requests": self.topics.label_requests,
                 "retrain-requests": self.topics.retrain}[key]
        await topic.send(key=record_key, value=value)

    def _with_vectors(self, result: BatchResult) -> list[ScoredPost]:
        """The batch's scored rows as sent: with their sentence vector on the chosen share, from a process
        without the watch role only, whose watch process would otherwise have to run the encoder again."""
        share = self.settings.scored_vector_share
        if "watch" in self.roles or share <= 0 or not self.settings.health_embedding_sample:
            return result.scored
        rows: list[ScoredPost] = []
        for row in result.scored:
            vector = result.vectors.get(row.post_id)
            if row.model_role == "champion" and vector is not None and np.isfinite(vector[0]) and carries_vector(row.post_id, share):
                row = ScoredRecord.model_construct(**row.__dict__, vector=pack_vector(vector))  # row is valid already
            rows.append(row)
        return rows

    async def publish(self, result: BatchResult) -> list[tuple[ScoredPost | DeadLetter, BaseException]]:
        """Send scored rows (keyed by brand) and dead letters; return those Kafka refused. Unavailability raises (retried).

        Scored records are keyed by brand so that the topic is also the watch role's repartition: each
        brand's posts reach one partition, hence one watch process, whichever scoring process scored them.
        Shadow rows travel too (``model_role='shadow'``): the store role writes them, detectors skip them.
        """
        sent: list[tuple[ScoredPost | DeadLetter, Awaitable[object]]] = []
        refused: list[tuple[ScoredPost | DeadLetter, BaseException]] = []
        with stage("publish"):
            scored = self._with_vectors(result) + result.unscored + result.shadow
            outgoing = [(self.topics.scored, r.brand, r) for r in scored] + [
                (self.topics.deadletter, d.post_id, d) for d in result.dead
            ]
            encoded = [(topic, key.encode() if key else None, record.model_dump_json().encode(), record)
                       for topic, key, record in outgoing]
        for topic, key_bytes, value, record in encoded:
            try:
                # Timed across the await: handing a record to the producer seldom yields (it may wait for buffer space).
                with stage("publish"):
                    delivery = await topic.send(key=key_bytes, value=value)
                sent.append((record, delivery))
            except Exception as exc:  # noqa: BLE001 - classified: refused records are returned, the rest retried
                if not is_record_refused(exc):
                    raise
                refused.append((record, exc))
        # The batch is acknowledged right after we return: make sure these records left the process.
        await self.app.producer.flush()
        for record, delivery in sent:
            try:
                await delivery
            except Exception as exc:  # noqa: BLE001 - as above, for errors the broker reports on delivery
                if not is_record_refused(exc):
                    raise
                refused.append((record, exc))
        return refused

    def release(self, events) -> None:  # type: ignore[no-untyped-def]
        """Drop the extra reference as an ack, so whichever of ours and ``take_events``' comes last is final.

        A bare ``decref`` is not enough: when ``take_events`` acked first (its loop moved on while the
        batch was still being stored, as it does with overlapped batches), the count reaches zero without
        the consumer ever marking the offsets done. A rebalance then waits for them for ever, and Faust's
        commit, which takes the first run of consecutive acked offsets (checking for a gap before it only
        once the partition has a committed offset), can commit past them: a restart then loses the batch.
        """
        for event in events:
            event.message.ack(self.app.consumer)

    async def score_stream(self, stream) -> None:  # type: ignore[no-untyped-def]
        """Score batch N+1 while batch N is stored/published/observed; acknowledge each when its effects are done.

        At most two batches are in flight, effects run in batch order, and a batch is released (made
        committable) only by its own completion, so overlapping costs no delivery guarantee. Embedded,
        the effects are store + publish + observe; in a scoring-only process, publish (and flush) alone.
        """
        await self.ready.wait()
        context = self.scoring_context()
        effects: asyncio.Task[None] | None = None
        try:
            async for events in stream.take_events(self.settings.batch_max, within=self.settings.batch_within_s):
                hold(events)
                records = [raw(e) for e in events]
                started = time.perf_counter()
                ctx = BatchContext(serving=self.slots.current, **context)  # type: ignore[arg-type]
                prepared = await prepare(records, ctx)
                if effects is not None:
                    await effects
                effects = asyncio.create_task(self._complete(events, records, prepared, ctx, started))
        finally:
            if effects is not None:
                await effects

    async def _complete(self, events, records: list[RawRecord], prepared: BatchResult | None, ctx: BatchContext, started: float) -> None:  # type: ignore[no-untyped-def]
        result = await finish(records, prepared, ctx)
        self.release(events)
        metrics.record_batch(result, time.perf_counter() - started)
        self.batches += 1
        self.posts_scored += len(result.scored)
        self.posts_unscored += len(result.unscored)
        self.dead_letters += len(result.dead)

    async def follow_model_events(self) -> None:
        """Every scoring and watch process must see every model event, so this reads the topic outside any group."""
        await self.ready.wait()
        if not self.roles & {"score", "watch"}:
            return
        consumer = AIOKafkaConsumer(
            self.topics.model_events.get_topic_name(), **client_options(self.settings),
            group_id=None, auto_offset_reset="latest", enable_auto_commit=False,
        )
        await consumer.start()
        # A model event that cannot be decoded must not end the following: dead-lettered, like the worker's.
        dead_lettering: set[asyncio.Task[None]] = set()

        def skipped(bad: BadBatch) -> None:
            task = asyncio.get_running_loop().create_task(self.dead_letter_batch(bad))
            dead_lettering.add(task)
            task.add_done_callback(dead_lettering.discard)

        guard_consumer(consumer, skipped)
        try:
            async for msg in consumer:
                try:
                    event = ModelEvent.model_validate_json(msg.value)
                except ValueError as exc:
                    log.error("ignoring malformed model event at offset %d: %s", msg.offset, exc)
                    continue
                await self._apply_model_event(event, msg.offset)
        finally:
            await consumer.stop()

    async def _apply_model_event(self, event: ModelEvent, offset: int) -> None:
        if event.action == "retrain-closed":
            if self.watcher is None:
                return
            if not event.retrain_for:
                log.error("ignoring retrain-closed event at offset %d: it names no model version", offset)
            elif self.watcher.coalescer.complete(event.retrain_for):
                log.info("retrain for %s closed without a new model (%s); its model alerts are armed again",
                         event.retrain_for, event.reason)
                self.watcher.rearm(event.retrain_for)
            return
        champion_before = self.slots.current.champion.version
        try:
            await self.slots.apply(event.role, event.action, event.model_ref, event.version)
        except Exception:  # noqa: BLE001 - keep serving the current models
            log.exception("could not apply model event %s; still serving the previous models", event)
            return
        await self.sync_watcher_models()
        if event.role == "challenger" and self.watcher is not None:  # the retrain it asked for is done
            self.watcher.coalescer.complete(event.retrain_for or champion_before)

    async def _on_shutdown(self, app_, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.stopping = True
        if self.watcher is not None:
            self.watcher.stop_health_checks()
        await self.save_watch_state()
        if self.brand_watcher is not None:
            await self.brand_watcher.aclose()
        await self.notifier.aclose()
