"""One batch of raw records → dead letters + scored rows, then store, publish and watch.

This is the whole per-batch contract of the worker, kept out of the Faust agent so it reads top to
bottom: validate (``streams.worker.validation``) → score (``models.scoring.scorer`` in a thread) → store
(``streams.store.clickhouse``) → publish (scored + dead-letter topics) → observe (drift monitors, flyback
sampling, model health). Scoring also yields each post's sentence vector from the same forward pass;
the vectors ride along in :class:`BatchResult` to the observers, are never stored, and are published
only by a scoring process without the watch role (for the watch process's input-drift sample). The agent runs it as two halves — :func:`prepare` (validate, score) and :func:`finish`
(store, publish, observe) — so the next batch is scored while this one is stored, and acknowledges a
batch only after its :func:`finish` returned.

One record can never take its batch down. Validation is total; a post the model fails on is scored
alone and dead-lettered; rows the store refuses and records the broker refuses are isolated and
dead-lettered (``storage_rejected``, ``publish_rejected``) while the rest of the batch goes on. Only
unavailability (storage or broker down) is retried, with backoff and without acknowledging. Anything
else that escapes is a bug: the batch is then handled record by record and the record that still
fails becomes a ``processing_failed`` dead letter.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from models.cpu_stages import stage
from models.language import LanguageConfig, route_many
from models.scoring.factory import SentimentScorer
from streams.core.brand_rules import BrandResolver
from streams.store.protocol import Store, insert_isolating
from streams.worker.dead_letters import dead_letter, stripped
from streams.worker.retry import StopRequested, retry_forever, retry_forever_async
from streams.core.schemas import DEFAULT_MAX_TEXT_CHARS, DeadLetter, Post, ScoredPost, utcnow
from streams.core.model_slots import Serving
from streams.worker.validation import Rejected, parse_post

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RawRecord:
    value: bytes | None
    key: bytes | None
    topic: str
    partition: int
    offset: int


@dataclass(slots=True)
class BatchResult:
    scored: list[ScoredPost] = field(default_factory=list)
    shadow: list[ScoredPost] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    # Stored with their language but never scored: a language the model does not read.
    unscored: list[ScoredPost] = field(default_factory=list)
    # post_id → the record it came from, so a later stage can dead-letter the original bytes.
    sources: dict[str, RawRecord] = field(default_factory=dict)
    # post_id → the champion's sentence vector of the post (model health reads a sample of them).
    vectors: dict[str, np.ndarray] = field(default_factory=dict)

    def merge(self, other: "BatchResult") -> None:
        self.scored += other.scored
        self.shadow += other.shadow
        self.dead += other.dead
        self.unscored += other.unscored
        self.sources.update(other.sources)
        self.vectors.update(other.vectors)


def reject(rec: RawRecord, kind: str, reason: str, post_id: str | None = None) -> DeadLetter:
    return dead_letter(kind=kind, reason=reason, topic=rec.topic, partition=rec.partition, offset=rec.offset,
                       key=rec.key, value=rec.value, post_id=post_id)


def validate(
    records: Sequence[RawRecord], resolver: BrandResolver, *, max_text_chars: int, keep_unknown_brand: bool
) -> tuple[list[tuple[RawRecord, Post]], list[DeadLetter]]:
    """Split records into valid posts (last copy wins for a post_id repeated in one batch) and dead letters."""
    valid: dict[str, tuple[RawRecord, Post]] = {}
    dead: list[DeadLetter] = []
    for rec in records:
        parsed = parse_post(rec.value, resolver, max_text_chars=max_text_chars, keep_unknown_brand=keep_unknown_brand)
        if isinstance(parsed, Rejected):
            dead.append(reject(rec, parsed.kind, parsed.reason, parsed.post_id))
        else:
            valid[parsed.post_id] = (rec, parsed)
    return list(valid.values()), dead


Vectors = dict[str, np.ndarray]  # post_id → sentence vector


def to_rows(
    posts: Sequence[Post], scorer: SentimentScorer, role: str, ingested_at: dt.datetime
) -> tuple[list[ScoredPost], Vectors]:
    """The posts' scored rows, and each post's sentence vector from the same forward pass."""
    with stage("score: calibrate, decide, rows"):  # the scorer's tokenise and forward stages are its own
        return _to_rows(posts, scorer, role, ingested_at)


def _to_rows(
    posts: Sequence[Post], scorer: SentimentScorer, role: str, ingested_at: dt.datetime
) -> tuple[list[ScoredPost], Vectors]:
    scored = scorer.score_with_vectors([p.text for p in posts])
    rows = [
        ScoredPost(
            post_id=p.post_id, brand=p.brand or "unknown", platform=p.platform, author=p.author, lang=p.lang,
            text=p.text, created_at=p.created_at, ingested_at=ingested_at, label=pr.label, probs=pr.probs,
            confidence=pr.confidence, model_version=pr.model_version, model_role=role,  # type: ignore[arg-type]
            reposts=p.reposts, followers=p.followers,
        )
        for p, pr in zip(posts, scored.predictions)
    ]
    return rows, {p.post_id: v for p, v in zip(posts, scored.vectors)}


def score_isolating_failures(
    items: Sequence[tuple[RawRecord, Post]], scorer: SentimentScorer, role: str, ingested_at: dt.datetime
) -> tuple[list[ScoredPost], Vectors, list[DeadLetter]]:
    """Score a batch; if the batch fails, score posts one by one so one bad post cannot stall the stream."""
    posts = [p for _, p in items]
    try:
        return *to_rows(posts, scorer, role, ingested_at), []
    except Exception:  # noqa: BLE001 - isolate the culprit below instead of crashing the agent
        log.exception("scoring a batch of %d with %s failed; retrying post by post", len(posts), scorer.version)
    rows: list[ScoredPost] = []
    vectors: Vectors = {}
    dead: list[DeadLetter] = []
    for rec, post in items:
        try:
            one, vector = to_rows([post], scorer, role, ingested_at)
        except Exception as exc:  # noqa: BLE001
            dead.append(reject(rec, "scoring_failed", f"model {scorer.version} failed: {exc!r}", post.post_id))
            continue
        rows += one
        vectors |= vector
    return rows, vectors, dead


def route_languages(
    items: Sequence[tuple[RawRecord, Post]], config: LanguageConfig, ingested_at: dt.datetime
) -> tuple[list[tuple[RawRecord, Post]], list[ScoredPost], list[DeadLetter]]:
    """Posts the model may score (with their language filled in), unscored rows, dead letters."""
    to_score: list[tuple[RawRecord, Post]] = []
    unscored: list[ScoredPost] = []
    dead: list[DeadLetter] = []
    verdicts = route_many([post.lang for _, post in items], [post.text for _, post in items], config)
    for (rec, post), verdict in zip(items, verdicts):
        post = post.model_copy(update={"lang": verdict.lang})
        if verdict.action == "score":
            to_score.append((rec, post))
        elif verdict.action == "dead-letter":
            dead.append(reject(rec, "unsupported_language", f"language {verdict.lang!r} ({verdict.source}, p={verdict.prob:.2f}) "
                               f"is not one the model scores ({', '.join(sorted(config.supported))})", post.post_id))
        else:
            unscored.append(ScoredPost(
                post_id=post.post_id, brand=post.brand or "unknown", platform=post.platform, author=post.author,
                lang=post.lang, text=post.text, created_at=post.created_at, ingested_at=ingested_at, label="unscored",
                probs={}, confidence=0.0, model_version="", model_role="unscored", reposts=post.reposts,
                followers=post.followers,
            ))
    return to_score, unscored, dead


def process_sync(
    records: Sequence[RawRecord],
    serving: Serving,
    resolver: BrandResolver,
    *,
    max_text_chars: int,
    keep_unknown_brand: bool,
    languages: LanguageConfig | None = None,
) -> BatchResult:
    """Validate, route by language and score. CPU-bound: the worker runs it in a thread."""
    with stage("decode and validate"):
        items, dead = validate(records, resolver, max_text_chars=max_text_chars, keep_unknown_brand=keep_unknown_brand)
    result = BatchResult(dead=dead, sources={post.post_id: rec for rec, post in items})
    now = utcnow()
    with stage("language ID"):
        items, result.unscored, unsupported = route_languages(items, languages or LanguageConfig(), now)
    result.dead += unsupported
    if not items:
        return result
    result.scored, result.vectors, failed = score_isolating_failures(items, serving.champion, "champion", now)
    result.dead += failed
    if serving.challenger is not None:
        ok_ids = {r.post_id for r in result.scored}
        shadow_items = [it for it in items if it[1].post_id in ok_ids]
        # A shadow model's failure must never cost the champion's output: its dead letters are dropped
        # from the stream and logged, because the post itself was scored and stored.
        result.shadow, _, shadow_failed = score_isolating_failures(shadow_items, serving.challenger, "shadow", now)
        for d in shadow_failed:
            log.warning("shadow model could not score post %s: %s", d.post_id, d.reason)
    return result


def store_sync(store: Store, result: BatchResult, should_stop: Callable[[], bool]) -> None:
    """Write everything the batch produced. Waits out an unavailable store (never acknowledged before);
    rows the store refuses become ``storage_rejected`` dead letters and leave the result."""
    with stage("store"):
        _store_sync(store, result, should_stop)


def _store_sync(store: Store, result: BatchResult, should_stop: Callable[[], bool]) -> None:
    rows = result.scored + result.shadow + result.unscored
    refused = retry_forever(lambda: insert_isolating(rows, store.insert_scored, store.refuses), should_stop=should_stop,
                            what=f"ClickHouse insert of {len(rows)} scored rows")
    refused_ids: set[str] = set()
    for row, exc in refused:
        if row.model_role == "shadow":
            log.warning("ClickHouse refused the shadow row of post %s: %r", row.post_id, exc)
            continue
        refused_ids.add(row.post_id)
        rec = result.sources[row.post_id]
        result.dead.append(reject(rec, "storage_rejected", f"ClickHouse refused the scored row: {exc!r}", row.post_id))
    if refused_ids:
        result.scored = [r for r in result.scored if r.post_id not in refused_ids]
        result.unscored = [r for r in result.unscored if r.post_id not in refused_ids]
    store_dead_letters(store, result.dead, should_stop)


def store_dead_letters(store: Store, dead: list[DeadLetter], should_stop: Callable[[], bool]) -> None:
    """Write dead letters; one the store refuses is written again without its original bytes (in place)."""
    refused = retry_forever(lambda: insert_isolating(dead, store.insert_dead_letters, store.refuses), should_stop=should_stop,
                            what=f"ClickHouse insert of {len(dead)} dead letters")
    if not refused:
        return
    bare = {id(dl): stripped(dl, repr(exc)) for dl, exc in refused}
    dead[:] = [bare.get(id(dl), dl) for dl in dead]
    for dl, exc in retry_forever(lambda: insert_isolating(list(bare.values()), store.insert_dead_letters, store.refuses),
                                 should_stop=should_stop, what="ClickHouse insert of stripped dead letters"):
        # Unreachable with the columns we write; if it happens the record still sits in Kafka at its offset.
        log.error("ClickHouse refused even the stripped dead letter of %s[%s]@%s: %r",
                  dl.source_topic, dl.partition, dl.offset, exc)


Publisher = Callable[[BatchResult], Awaitable[list[tuple[ScoredPost | DeadLetter, BaseException]]]]
"""Sends a batch's scored rows and dead letters and returns the records Kafka refused (too large...)."""


async def publish_stage(
    result: BatchResult, store: Store | None, publish: Publisher, should_stop: Callable[[], bool]
) -> None:
    """Publish, waiting out an unavailable broker; refused records become dead letters themselves.

    Without a store (the ``score`` role) those dead letters reach ClickHouse through the dead-letter topic.
    """
    refused = await retry_forever_async(lambda: publish(result), should_stop=should_stop,
                                        what=f"publishing {len(result.scored)} scored rows and {len(result.dead)} dead letters")
    if not refused:
        return
    extra = BatchResult()
    for item, exc in refused:
        if isinstance(item, ScoredPost):
            # Stored in ClickHouse already; the dead letter says the scored topic lacks it.
            rec = result.sources[item.post_id]
            extra.dead.append(reject(rec, "publish_rejected", f"Kafka refused the scored record: {exc!r}", item.post_id))
        else:
            extra.dead.append(stripped(item, f"Kafka refused the dead letter: {exc!r}"))
    if store is not None:
        await asyncio.to_thread(store_dead_letters, store, extra.dead, should_stop)
    again = await retry_forever_async(lambda: publish(extra), should_stop=should_stop, what="publishing dead letters")
    for item, exc in again:
        log.error("Kafka refused a stripped dead letter (%s); it is stored in ClickHouse: %r", item, exc)
    refused_ids = {item.post_id for item, _ in refused if isinstance(item, ScoredPost)}
    result.scored = [r for r in result.scored if r.post_id not in refused_ids]
    result.unscored = [r for r in result.unscored if r.post_id not in refused_ids]
    result.dead += extra.dead


Observer = Callable[[BatchResult], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class BatchContext:
    """What every batch needs besides its records."""

    serving: Serving
    resolver: BrandResolver
    store: Store | None  # None: a scoring-only process; the store role writes what it publishes
    publish: Publisher
    observers: Sequence[Observer] = ()
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    keep_unknown_brand: bool = False
    languages: LanguageConfig | None = None
    should_stop: Callable[[], bool] = lambda: False


async def score_stage(records: Sequence[RawRecord], ctx: BatchContext) -> BatchResult:
    """Validate, route by language and score, in a thread (the model releases the GIL)."""
    return await asyncio.to_thread(
        process_sync, records, ctx.serving, ctx.resolver,
        max_text_chars=ctx.max_text_chars, keep_unknown_brand=ctx.keep_unknown_brand, languages=ctx.languages,
    )


async def effect_stage(result: BatchResult, ctx: BatchContext) -> None:
    """Store, publish and observe what a batch produced."""
    if ctx.store is not None:
        await asyncio.to_thread(store_sync, ctx.store, result, ctx.should_stop)
    await publish_stage(result, ctx.store, ctx.publish, ctx.should_stop)
    for observe in ctx.observers:
        try:
            await observe(result)
        except Exception:  # noqa: BLE001 - monitoring must never stop scoring
            log.exception("observer %r failed on a batch", observe)


async def prepare(records: Sequence[RawRecord], ctx: BatchContext) -> BatchResult | None:
    """The scoring half of a batch; None when it failed unexpectedly (then :func:`finish` goes record by record).

    Split from the effects so the worker can score the next batch while this one is stored and published.
    """
    try:
        return await score_stage(records, ctx)
    except Exception:  # noqa: BLE001 - a bug met by some record: finish() isolates it
        log.exception("scoring a batch of %d records failed; handling its records one by one", len(records))
        return None


async def finish(records: Sequence[RawRecord], prepared: BatchResult | None, ctx: BatchContext) -> BatchResult:
    """The effects of a prepared batch, so that no record can fail it: on an unexpected error, record by record.

    Raises only :class:`StopRequested` (shutdown while storage or Kafka is unavailable): the caller
    must then leave the batch unacknowledged.
    """
    if prepared is not None:
        try:
            await effect_stage(prepared, ctx)
            return prepared
        except StopRequested:
            raise
        except Exception:  # noqa: BLE001 - a bug met by some record: find it instead of losing the batch
            log.exception("a batch of %d records failed; handling its records one by one", len(records))
    result = BatchResult()
    for rec in records:
        try:
            one = await score_stage([rec], ctx)
            await effect_stage(one, ctx)
            result.merge(one)
        except StopRequested:
            raise
        except Exception as exc:  # noqa: BLE001
            log.exception("record %s[%d]@%d failed; dead-lettering it", rec.topic, rec.partition, rec.offset)
            dead = BatchResult(dead=[reject(rec, "processing_failed", f"{type(exc).__name__}: {exc}")])
            if ctx.store is not None:
                await asyncio.to_thread(store_sync, ctx.store, dead, ctx.should_stop)
            await publish_stage(dead, ctx.store, ctx.publish, ctx.should_stop)
            result.merge(dead)
    return result

