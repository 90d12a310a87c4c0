"""Dead letters that can always be stored and published.

A dead letter is the last place a bad record goes, so it must never fail itself: every string is made
valid UTF-8 (ClickHouse's client refuses lone surrogates), the reason is bounded, and only the head of
the original value travels with its length and SHA-256, so a 2 MB poison record still yields a dead
letter far below any topic's maximum message size (Kafka's default is 1 MB).
"""

from __future__ import annotations

import base64
import hashlib

from streams.core.schemas import DeadLetter

# Bytes of the original value (and key) kept in a dead letter: enough to see what a producer sent,
# small enough that a dead letter (≤ 2 × 22 KB of base64 + a 2,000-character reason) always fits the
# smallest message size brandpulse accepts (Settings.max_message_bytes ≥ 64 KiB).
HEAD_BYTES = 16 * 1024
MAX_REASON_CHARS = 2_000
MAX_POST_ID_CHARS = 128


def storable(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with anything not encodable as UTF-8 escaped."""
    cut = text[:limit]
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")


def record_offset(value: bytes) -> int:
    """A stable stand-in offset for a record without a Kafka position: below −1, from its bytes.

    The dead-letter table keys on (topic, partition, offset): the same record dead-lettered again
    lands on the same row, two different ones never overwrite each other.
    """
    return -2 - int.from_bytes(hashlib.sha256(value).digest()[:7], "big")


def _b64_head(value: bytes) -> str:
    return base64.b64encode(value[:HEAD_BYTES]).decode("ascii")


def dead_letter(
    *,
    kind: str,
    reason: str,
    topic: str,
    partition: int | None,
    offset: int | None,
    key: bytes | None,
    value: bytes | None,
    post_id: str | None = None,
    last_offset: int | None = None,
) -> DeadLetter:
    value = value or b""
    return DeadLetter(
        reason=storable(reason, MAX_REASON_CHARS),
        error_kind=storable(kind, 64),
        source_topic=storable(topic, 256),
        partition=partition,
        offset=offset,
        last_offset=last_offset,
        key_b64=None if key is None else _b64_head(key),
        value_b64=_b64_head(value),
        value_bytes=len(value),
        value_sha256=hashlib.sha256(value).hexdigest(),
        truncated=len(value) > HEAD_BYTES or (key is not None and len(key) > HEAD_BYTES),
        post_id=None if post_id is None else storable(post_id, MAX_POST_ID_CHARS),
    )


def stripped(dl: DeadLetter, why: str) -> DeadLetter:
    """The same dead letter without the original bytes: what is stored when even the dead letter is refused."""
    return dl.model_copy(update={
        "key_b64": None, "value_b64": "", "truncated": True, "post_id": None,
        "reason": storable(f"{dl.reason} [original bytes dropped: {why}]", MAX_REASON_CHARS),
    })
