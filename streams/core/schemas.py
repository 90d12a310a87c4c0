"""Pydantic models for every record that crosses a Kafka topic or the ClickHouse boundary.

The records drift's logic also reads (scored posts, alerts, labels, model events) are defined in
:mod:`drift.records`, below streams in the layers, and re-exported here.

Input posts are validated here and nowhere else (see :mod:`streams.worker.validation` for the byte-level
checks that come first). All records serialise to JSON with ``model_dump_json``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Iterable
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from drift.labels.flyback import stable_unit

# Records drift reads or writes are defined in drift.records; re-exported so the edge has one import.
from drift.records import (  # noqa: F401  (re-exports)
    Alert,
    HumanLabel,
    LabelRequest,
    ModelEvent,
    RetrainAlert,
    RetrainRequest,
    ScoredPost,
    utcnow,
)

# The one source of the post text limit: the BRANDPULSE_MAX_TEXT_CHARS setting's default and bound,
# and the inference API's default. streams.worker.validation applies the configured value before the schema,
# so a longer post is dead-lettered as too_large with the limit named, never as a schema error.
DEFAULT_MAX_TEXT_CHARS = 10_000
# Bounded so a scored record (text included, up to 4 UTF-8 bytes per character, JSON-escaped) always
# fits Kafka's default 1 MB message size.
MAX_TEXT_CHARS_BOUND = 100_000

# Where feeds put reach: Twitter's API says retweet_count / followers_count, exports often shorten them.
REPOST_KEYS = ("retweets", "retweet_count", "reposts", "repost_count", "shares")
FOLLOWER_KEYS = ("followers", "followers_count", "author_followers")
_UINT32_MAX = 2**32 - 1


def _count(metadata: dict[str, Any], keys: tuple[str, ...]) -> int:
    """The first of ``keys`` holding a count (an int or a digit string), clamped to 0..2^32-1."""
    for key in keys:
        value = metadata.get(key)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip()[:12])
        if isinstance(value, int) and not isinstance(value, bool):
            return min(max(value, 0), _UINT32_MAX)
    return 0


class ScoredRecord(ScoredPost):
    """A scored row as the scored topic carries it: the ClickHouse row and, on the share of champion rows
    a scoring-only process sends with it (``scored_vector_share``), the post's sentence vector from the
    forward pass that scored it, float16 in base64 (about 1 KB for 384 dimensions). The watch role tests
    input drift on these instead of running the encoder a second time; the store role ignores them."""

    vector: str | None = None


def carries_vector(post_id: str, share: float) -> bool:
    """Whether ``post_id``'s scored record carries its vector: a stable ``share`` of post ids, the same
    in every scoring process (independent of the flyback sample)."""
    return share >= 1.0 or stable_unit(f"vector:{post_id}") < share


def pack_vector(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f2").tobytes()).decode("ascii")


_UNUSABLE = np.empty(0, dtype=np.float32)


def unpack_vectors(rows: Iterable[ScoredRecord]) -> dict[str, np.ndarray]:
    """post_id → float32 vector of the rows that carry one. A damaged vector maps to an empty array:
    the row still counts, the input-drift sample leaves it out and the health monitor counts it
    (``vectors_unusable`` in ``/stats``)."""
    out: dict[str, np.ndarray] = {}
    for row in rows:
        if not row.vector:
            continue
        try:
            raw = base64.b64decode(row.vector, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        usable = raw and len(raw) % 2 == 0
        out[row.post_id] = np.frombuffer(raw, dtype="<f2").astype(np.float32) if usable else _UNUSABLE
    return out


class Post(BaseModel):
    """A social post as producers send it to the posts topic."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    post_id: str = Field(min_length=1, max_length=128)
    # Its length limit is the BRANDPULSE_MAX_TEXT_CHARS setting, applied by streams.worker.validation.
    text: str = Field(min_length=1)
    author: str | None = Field(default=None, max_length=256)
    platform: str = Field(default="unknown", max_length=64)
    created_at: dt.datetime
    lang: str | None = Field(default=None, max_length=16)
    brand: str | None = Field(default=None, max_length=128)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def reposts(self) -> int:
        """How often the source says this post was reposted (``metadata.retweets`` and the like)."""
        return _count(self.metadata, REPOST_KEYS)

    @property
    def followers(self) -> int:
        """The author's audience as the source reports it (``metadata.followers`` and the like)."""
        return _count(self.metadata, FOLLOWER_KEYS)

    @field_validator("post_id", mode="before")
    @classmethod
    def _id_as_str(cls, v: Any) -> Any:
        # Upstream feeds often send numeric ids (tweet ids); keep them exact as strings.
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("text")
    @classmethod
    def _encodable(cls, v: str) -> str:
        # JSON may carry lone surrogates ("\\ud800"): valid JSON, but not text ClickHouse can store.
        try:
            v.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"text is not valid Unicode ({exc.reason})") from None
        return v

    @field_validator("created_at")
    @classmethod
    def _aware_utc(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.timezone.utc)
        try:
            v = v.astimezone(dt.timezone.utc)
        except OverflowError:  # year 1 or 9999 with an offset: outside datetime's range once shifted
            raise ValueError("created_at is outside 2000-01-01 .. tomorrow") from None
        if v.year < 2000 or v > utcnow() + dt.timedelta(days=1):
            raise ValueError("created_at is outside 2000-01-01 .. tomorrow")
        return v


class DeadLetter(BaseModel):
    """A record that could not be processed, with why, and the head of the original bytes (base64).

    Built by :func:`streams.worker.dead_letters.dead_letter`, which keeps it small enough for any topic and
    every string valid UTF-8, so a dead letter itself can always be stored and published.
    """

    reason: str
    error_kind: str
    source_topic: str
    partition: int | None = None
    offset: int | None = None
    last_offset: int | None = Field(
        default=None, description="Last offset of the range, when one dead letter stands for a whole batch (from offset)"
    )
    key_b64: str | None = None
    value_b64: str
    value_bytes: int = Field(default=0, description="Length of the original value in bytes")
    value_sha256: str = Field(default="", description="SHA-256 of the whole original value (hex)")
    truncated: bool = Field(default=False, description="value_b64 holds only the head of the original value")
    post_id: str | None = None
    failed_at: dt.datetime = Field(default_factory=utcnow)
