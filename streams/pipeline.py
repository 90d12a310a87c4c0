"""One batch of raw records → dead letters + scored rows, then store, publish and watch.

This is the whole per-batch contract of the worker, kept out of the Faust agent so it reads top to
bottom: validate (``streams.validation``) → score (``models.scorer`` in a thread) → store
(``streams.clickhouse``, retried until it succeeds) → publish (scored + dead-letter topics) →
observe (drift monitors, flyback sampling). The agent acknowledges the batch only after this returns.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from streams.brands import BrandResolver
from streams.clickhouse import ClickHouseStore, retry_forever
from streams.schemas import DeadLetter, Post, ScoredPost, utcnow
from models.scorer_factory import SentimentScorer
from streams.serving import Serving
from streams.validation import Rejected, parse_post

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


def _b64(b: bytes | None) -> str | None:
    return None if b is None else base64.b64encode(b).decode("ascii")


def dead_letter(rec: RawRecord, kind: str, reason: str, post_id: str | None = None) -> DeadLetter:
    return DeadLetter(
        reason=reason, error_kind=kind, source_topic=rec.topic, partition=rec.partition, offset=rec.offset,
        key_b64=_b64(rec.key), value_b64=_b64(rec.value) or "", post_id=post_id,
    )


def validate(
    records: Sequence[RawRecord], resolver: BrandResolver, *, max_text_chars: int, keep_unknown_brand: bool
) -> tuple[list[tuple[RawRecord, Post]], list[DeadLetter]]:
    """Split records into valid posts (last copy wins for a post_id repeated in one batch) and dead letters."""
    valid: dict[str, tuple[RawRecord, Post]] = {}
    dead: list[DeadLetter] = []
    for rec in records:
        parsed = parse_post(rec.value, resolver, max_text_chars=max_text_chars, keep_unknown_brand=keep_unknown_brand)
        if isinstance(parsed, Rejected):
            dead.append(dead_letter(rec, parsed.kind, parsed.reason, parsed.post_id))
        else:
            valid[parsed.post_id] = (rec, parsed)
    return list(valid.values()), dead


def to_rows(posts: Sequence[Post], scorer: SentimentScorer, role: str, ingested_at: dt.datetime) -> list[ScoredPost]:
    preds = scorer.score([p.text for p in posts])
    return [
        ScoredPost(
            post_id=p.post_id, brand=p.brand or "unknown", platform=p.platform, author=p.author, lang=p.lang,
            text=p.text, created_at=p.created_at, ingested_at=ingested_at, label=pr.label, probs=pr.probs,
            confidence=pr.confidence, model_version=pr.model_version, model_role=role,  # type: ignore[arg-type]
        )
        for p, pr in zip(posts, preds)
    ]


def score_isolating_failures(
    items: Sequence[tuple[RawRecord, Post]], scorer: SentimentScorer, role: str, ingested_at: dt.datetime
) -> tuple[list[ScoredPost], list[DeadLetter]]:
    """Score a batch; if the batch fails, score posts one by one so one bad post cannot stall the stream."""
    posts = [p for _, p in items]
    try:
        return to_rows(posts, scorer, role, ingested_at), []
    except Exception:  # noqa: BLE001 - isolate the culprit below instead of crashing the agent
        log.exception("scoring a batch of %d with %s failed; retrying post by post", len(posts), scorer.version)
    rows: list[ScoredPost] = []
    dead: list[DeadLetter] = []
    for rec, post in items:
        try:
            rows += to_rows([post], scorer, role, ingested_at)
        except Exception as exc:  # noqa: BLE001
            dead.append(dead_letter(rec, "scoring_failed", f"model {scorer.version} failed: {exc!r}"[:1000], post.post_id))
    return rows, dead


def process_sync(
    records: Sequence[RawRecord],
    serving: Serving,
    resolver: BrandResolver,
    *,
    max_text_chars: int,
    keep_unknown_brand: bool,
) -> BatchResult:
    """Validate and score. CPU-bound: the worker runs it in a thread."""
    items, dead = validate(records, resolver, max_text_chars=max_text_chars, keep_unknown_brand=keep_unknown_brand)
    result = BatchResult(dead=dead)
    if not items:
        return result
    now = utcnow()
    result.scored, failed = score_isolating_failures(items, serving.champion, "champion", now)
    result.dead += failed
    if serving.challenger is not None:
        ok_ids = {r.post_id for r in result.scored}
        shadow_items = [it for it in items if it[1].post_id in ok_ids]
        # A shadow model's failure must never cost the champion's output: its dead letters are dropped
        # from the stream and logged, because the post itself was scored and stored.
        result.shadow, shadow_failed = score_isolating_failures(shadow_items, serving.challenger, "shadow", now)
        for d in shadow_failed:
            log.warning("shadow model could not score post %s: %s", d.post_id, d.reason)
    return result


def store_sync(store: ClickHouseStore, result: BatchResult, should_stop: Callable[[], bool]) -> None:
    """Write everything the batch produced; retried until it succeeds (never acknowledged before)."""
    rows = result.scored + result.shadow
    retry_forever(lambda: store.insert_scored(rows), what=f"ClickHouse insert of {len(rows)} scored rows", should_stop=should_stop)
    retry_forever(lambda: store.insert_dead_letters(result.dead), what=f"ClickHouse insert of {len(result.dead)} dead letters", should_stop=should_stop)


Observer = Callable[[BatchResult], Awaitable[None]]


async def handle_batch(
    records: Sequence[RawRecord],
    serving: Serving,
    resolver: BrandResolver,
    store: ClickHouseStore,
    *,
    publish: Callable[[BatchResult], Awaitable[None]],
    observers: Sequence[Observer] = (),
    max_text_chars: int,
    keep_unknown_brand: bool,
    should_stop: Callable[[], bool] = lambda: False,
) -> BatchResult:
    result = await asyncio.to_thread(
        process_sync, records, serving, resolver, max_text_chars=max_text_chars, keep_unknown_brand=keep_unknown_brand
    )
    await asyncio.to_thread(store_sync, store, result, should_stop)
    await publish(result)
    for observe in observers:
        try:
            await observe(result)
        except Exception:  # noqa: BLE001 - monitoring must never stop scoring
            log.exception("observer %r failed on a batch", observe)
    return result
