"""The storage contract: every write and read brandpulse makes.

Callers (pipeline, watch, trends, brand views, dashboard, CLI) depend on :class:`Store`, never on
SQL; the one implementation today, :class:`streams.store.clickhouse.ClickHouseStore`, owns all SQL and
serves both embedded chDB (``chdb:///abs/dir``) and a ClickHouse server (``http(s)://…``) through
clickhouse-connect. :func:`streams.store.open.open_store` picks the backend by DSN scheme.

Every method is synchronous (callers in asyncio use a thread). Times come back timezone-aware in
UTC. Writes are idempotent: the worker acknowledges Kafka offsets only after a write succeeded, so a
redelivered batch is written again and must not count twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from drift.brand.post import BrandPost
from streams.core.schemas import Alert, DeadLetter, HumanLabel, LabelRequest, ScoredPost, utcnow
from streams.core.settings import Retention

BrandPostOrder = Literal["newest", "sample"]
T = TypeVar("T")


class TrendRow(NamedTuple):
    """One bucket of one brand (or of all brands).

    ``negative``/``neutral``/``positive`` count distinct posts by the label the model gave them (the
    alerting rule: negative is flagged at a recall-tuned threshold). ``expected_*`` are the mean
    calibrated probabilities over the same posts, an unbiased estimate of each label's share
    (NaN when unknown).
    """

    bucket: dt.datetime
    posts: int
    negative: int
    neutral: int
    positive: int
    mean_confidence: float
    expected_negative: float
    expected_neutral: float
    expected_positive: float


class GroupShareRow(NamedTuple):
    bucket: dt.datetime
    brand: str
    posts: int
    negative: int


class VoicesRow(NamedTuple):
    bucket: dt.datetime
    posts: int
    distinct_texts: int
    authors: int
    negative: int


class LanguageRow(NamedTuple):
    bucket: dt.datetime
    lang: str  # '?' when neither the producer nor the pipeline named one
    posts: int


class LabelledOutcome(NamedTuple):
    """How many human-labelled posts a model version predicted as ``predicted`` and people called ``human``."""

    version: str
    predicted: str
    human: str
    posts: int


ErasureKind = Literal["author", "post"]


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def author_key(author: str) -> str:
    """How authors are compared when one is erased: without a leading ``@`` and case-folded, as
    handles are on Twitter/X, Reddit and Mastodon. Erasing too much is the safe side of a request."""
    return author.strip().removeprefix("@").casefold()


class ErasureRequest(BaseModel):
    """A person's request to erase their data: every post of an author, or one post."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    kind: ErasureKind
    identifier: str = Field(min_length=1, max_length=256, repr=False)  # never shown: it is what is being erased
    operator: str = Field(min_length=1, max_length=200, description="Who asked for it (a name, a ticket)")

    @field_validator("identifier")
    @classmethod
    def _not_only_at(cls, v: str) -> str:
        if not v.removeprefix("@").strip():
            raise ValueError("the identifier is empty")
        return v

    @property
    def identifier_sha256(self) -> str:
        """What the audit keeps of the identifier: a SHA-256 of its compared form."""
        return sha256_hex(author_key(self.identifier) if self.kind == "author" else self.identifier)


class ErasureReport(BaseModel):
    """What one erasure removed: rows per table, and how many post ids went on the erasure list.

    ``rows`` has every table of the database: rows deleted (``alerts``: alerts whose examples or
    message named the person, scrubbed; ``brand_minute``: per-minute aggregate rows recomputed
    without the posts). ``views`` hold no rows of their own; ``unhandled`` are tables erasure does not
    know, which an operator must look at (none in brandpulse's own schema).
    """

    erasure_id: str
    requested_at: dt.datetime = Field(default_factory=utcnow)
    operator: str
    kind: ErasureKind
    identifier_sha256: str
    rows: dict[str, int]
    erasure_list: int = Field(description="Post ids put on the erasure list the labeller and trainer skip")
    views: list[str] = Field(default_factory=list)
    unhandled: list[str] = Field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.rows.values()) + self.erasure_list


class Store(Protocol):
    """What brandpulse needs from storage (see the module docstring for the conventions)."""

    def refuses(self, exc: BaseException) -> bool:
        """True when a write failed because of the rows themselves (to dead-letter), False when the
        store is unavailable (to retry)."""
        ...

    def ensure_schema(self, retention: Retention | None = None) -> None:
        """Create whatever is missing and give every table its retention (default: :class:`Retention`'s
        documented defaults); safe to call on every start."""

    def close(self) -> None: ...

    # ---- writes (idempotent) ------------------------------------------------------------
    def insert_scored(self, rows: Sequence[ScoredPost]) -> None: ...

    def insert_dead_letters(self, rows: Sequence[DeadLetter]) -> None: ...

    def insert_alerts(self, alerts: Sequence[Alert]) -> None: ...

    def insert_label_requests(self, requests: Sequence[LabelRequest]) -> None: ...

    def insert_human_labels(self, labels: Sequence[HumanLabel]) -> None: ...

    # ---- trends ------------------------------------------------------------------------
    def brands(self) -> list[str]:
        """Every brand with stored posts, sorted."""

    def newest_minute(self, brand: str | None) -> dt.datetime | None:
        """Start of the newest minute with posts (of ``brand``, or of any brand); None when empty."""

    def first_minute(self, brand: str | None) -> dt.datetime | None:
        """Start of the oldest minute with posts (of ``brand``, or of any brand); None when empty."""

    def trend(self, brand: str | None, width: dt.timedelta, start: dt.datetime, end: dt.datetime) -> list[TrendRow]:
        """Buckets of ``width`` in [start, end) that hold posts, oldest first."""

    def post_counts(self) -> dict[str, int]:
        """Stored (champion-scored) posts per brand."""

    # ---- brand views -------------------------------------------------------------------
    def brand_posts(
        self, brand: str, start: dt.datetime, end: dt.datetime, order: BrandPostOrder, limit: int
    ) -> list[BrandPost]:
        """Posts of [start, end): the newest first, or a fixed pseudo-random sample (by post id)."""

    def brand_alerts(
        self, brand: str, kinds: Sequence[str], start: dt.datetime, end: dt.datetime
    ) -> list[Alert]:
        """The brand's alerts of these kinds detected in [start, end), oldest first."""

    def group_shares(
        self, brands: Sequence[str], width: dt.timedelta, start: dt.datetime, end: dt.datetime
    ) -> list[GroupShareRow]: ...

    def voices(self, brand: str, width: dt.timedelta, start: dt.datetime, end: dt.datetime) -> list[VoicesRow]:
        """Raw mentions next to distinct texts (reposts and copy-paste count once) and distinct authors."""

    def languages(self, brand: str, width: dt.timedelta, start: dt.datetime, end: dt.datetime) -> list[LanguageRow]:
        """Posts per language per bucket, the most frequent first within a bucket."""

    # ---- dashboard, labels, models -----------------------------------------------------
    def timeline_alerts(self, brand: str | None, start: dt.datetime, end: dt.datetime, limit: int) -> list[Alert]:
        """Alerts whose drift began (``since``, else detection) in [start, end): the brand's and the
        brand-less ones (model drift), oldest first."""

    def open_label_requests(self, brand: str | None) -> int:
        """Posts queued for labelling that no one has labelled yet."""

    def labelled_outcomes(self, versions: Sequence[str]) -> list[LabelledOutcome]: ...

    def served_versions(self) -> dict[str, str]:
        """Newest model version seen per role (``champion``, ``challenger``)."""

    # ---- erasure -----------------------------------------------------------------------
    def erasure_targets(self, request: ErasureRequest) -> list[str]:
        """The post ids a request covers that may still sit in Kafka's label queue: the author's stored
        posts, or the post itself unless an earlier erasure already took it. Empty when nothing is left."""

    def erase(self, request: ErasureRequest, erasure_list: int = 0) -> ErasureReport:
        """Delete the person's data from every table, and add one audit row (without the identifier).

        Idempotent: a second run finds nothing and reports 0 rows. ``erasure_list`` is how many post
        ids the caller put on the erasure list, recorded in the audit row."""


def erase_everywhere(store: Store, request: ErasureRequest, block: Callable[[list[str]], None]) -> ErasureReport:
    """Erase ``request`` from the store and from the label queue.

    The label-requests topic cannot be edited, so ``block`` puts the covered post ids on the erasure
    list its readers skip (:mod:`streams.kafka.erasures`). It runs first and must succeed: if the
    store's erasure then fails, running again finds the same ids and blocks them again, where the
    other order could erase the posts and lose the ids the queue still needs.
    """
    ids = store.erasure_targets(request)
    if ids:
        block(ids)
    return store.erase(request, erasure_list=len(ids))


def insert_isolating(
    rows: Sequence[T], insert: Callable[[Sequence[T]], None], refuses: Callable[[BaseException], bool]
) -> list[tuple[T, BaseException]]:
    """Insert ``rows``; when the store refuses the data (``refuses``, the store's own judgement of an
    error: :meth:`Store.refuses`), bisect to find exactly the refused rows.

    Returns the refused rows with their errors (the rest is stored). An unavailable store raises, so
    the caller retries the whole batch; stored halves are written again then, which the
    ReplacingMergeTree tables absorb. Kafka Connect's ``errors.tolerance=all`` with a dead-letter
    queue does the same for sinks.
    """
    if not rows:
        return []
    try:
        insert(rows)
        return []
    except Exception as exc:  # noqa: BLE001 - classified below; anything not about the rows propagates
        if not refuses(exc):
            raise
        if len(rows) == 1:
            return [(rows[0], exc)]
    mid = len(rows) // 2
    return insert_isolating(rows[:mid], insert, refuses) + insert_isolating(rows[mid:], insert, refuses)
