"""ClickHouse storage: connection, schema, idempotent writes.

The same code runs against embedded chDB (``chdb:///abs/dir``, the default) and a ClickHouse
server (``http://user:pass@host:8123``): both go through clickhouse-connect.

Idempotency: the worker acknowledges Kafka offsets only after a write succeeded, so a crash
redelivers posts that may already be stored. ``scored_posts`` is a ReplacingMergeTree keyed by
(brand, model_role, post_id): read it with ``FINAL`` (or the ``posts`` view) for one row per post.
The per-minute aggregate counts posts with ``uniqExact(post_id)`` so redelivered rows do not
double-count there either.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from streams.schemas import Alert, DeadLetter, HumanLabel, LabelRequest, ScoredPost

log = logging.getLogger(__name__)
T = TypeVar("T")

SCORED_COLUMNS = [
    "post_id", "brand", "platform", "author", "lang", "text", "created_at", "ingested_at",
    "label", "probs", "confidence", "model_version", "model_role",
]
DEAD_LETTER_COLUMNS = [
    "failed_at", "error_kind", "reason", "source_topic", "partition", "offset", "post_id", "key_b64", "value_b64",
]


def schema_ddl(db: str) -> list[str]:
    return [
        f"CREATE DATABASE IF NOT EXISTS {db}",
        f"""CREATE TABLE IF NOT EXISTS {db}.scored_posts (
            post_id String,
            brand LowCardinality(String),
            platform LowCardinality(String),
            author Nullable(String),
            lang LowCardinality(Nullable(String)),
            text String CODEC(ZSTD(3)),
            created_at DateTime64(3, 'UTC'),
            ingested_at DateTime64(3, 'UTC'),
            label LowCardinality(String),
            probs Map(LowCardinality(String), Float32),
            p_negative Float32 MATERIALIZED probs['negative'],
            p_positive Float32 MATERIALIZED probs['positive'],
            confidence Float32,
            model_version LowCardinality(String),
            model_role LowCardinality(String)
        ) ENGINE = ReplacingMergeTree(ingested_at)
        PARTITION BY toYYYYMM(created_at)
        ORDER BY (brand, model_role, post_id)""",
        # One row per post as scored by the live (champion) model; shadow rows stay out of trends.
        f"""CREATE VIEW IF NOT EXISTS {db}.posts AS
            SELECT * EXCEPT (p_negative, p_positive), p_negative, p_positive
            FROM {db}.scored_posts FINAL WHERE model_role = 'champion'""",
        f"""CREATE TABLE IF NOT EXISTS {db}.brand_minute (
            brand LowCardinality(String),
            minute DateTime('UTC'),
            model_version LowCardinality(String),
            posts AggregateFunction(uniqExact, String),
            negative AggregateFunction(uniqExactIf, String, UInt8),
            neutral AggregateFunction(uniqExactIf, String, UInt8),
            positive AggregateFunction(uniqExactIf, String, UInt8),
            confidence AggregateFunction(avg, Float32)
        ) ENGINE = AggregatingMergeTree
        ORDER BY (brand, minute, model_version)""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.brand_minute_mv TO {db}.brand_minute AS
            SELECT brand, toStartOfMinute(created_at) AS minute, model_version,
                   uniqExactState(post_id) AS posts,
                   uniqExactIfState(post_id, label = 'negative') AS negative,
                   uniqExactIfState(post_id, label = 'neutral') AS neutral,
                   uniqExactIfState(post_id, label = 'positive') AS positive,
                   avgState(confidence) AS confidence
            FROM {db}.scored_posts WHERE model_role = 'champion'
            GROUP BY brand, minute, model_version""",
        f"""CREATE TABLE IF NOT EXISTS {db}.dead_letters (
            failed_at DateTime64(3, 'UTC'),
            error_kind LowCardinality(String),
            reason String,
            source_topic LowCardinality(String),
            partition Int32,
            offset Int64,
            post_id Nullable(String),
            key_b64 Nullable(String),
            value_b64 String
        ) ENGINE = ReplacingMergeTree
        ORDER BY (source_topic, partition, offset)""",
        f"""CREATE TABLE IF NOT EXISTS {db}.alerts (
            alert_id String,
            kind LowCardinality(String),
            detector LowCardinality(String),
            statistic Float64,
            threshold Float64,
            brand Nullable(String),
            window UInt32,
            model_version LowCardinality(String),
            example_post_ids Array(String),
            message String,
            detected_at DateTime64(3, 'UTC'),
            since Nullable(DateTime64(3, 'UTC'))
        ) ENGINE = ReplacingMergeTree
        ORDER BY alert_id""",
        f"""CREATE TABLE IF NOT EXISTS {db}.label_queue (
            post_id String,
            brand LowCardinality(String),
            text String,
            predicted_label LowCardinality(String),
            confidence Float32,
            model_version LowCardinality(String),
            reason LowCardinality(String),
            requested_at DateTime64(3, 'UTC')
        ) ENGINE = ReplacingMergeTree(requested_at)
        ORDER BY post_id""",
        f"""CREATE TABLE IF NOT EXISTS {db}.human_labels (
            post_id String,
            label LowCardinality(String),
            annotator String,
            labelled_at DateTime64(3, 'UTC'),
            text Nullable(String)
        ) ENGINE = ReplacingMergeTree(labelled_at)
        ORDER BY post_id""",
    ]


def connect(dsn: str) -> Client:
    """A clickhouse-connect client for ``chdb:///dir`` or ``http(s)://[user:pass@]host:port``."""
    if dsn.startswith("chdb://"):
        return clickhouse_connect.get_client(dsn=dsn)
    parts = urlsplit(dsn)
    if parts.scheme not in ("http", "https", "clickhouse"):
        raise ValueError(f"unsupported ClickHouse URL scheme {parts.scheme!r}: use chdb:///dir or http(s)://host:8123")
    return clickhouse_connect.get_client(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (8443 if parts.scheme == "https" else 8123),
        username=parts.username or "default",
        password=parts.password or "",
        secure=parts.scheme == "https",
    )


def redact(dsn: str) -> str:
    """The DSN without its password, for logs."""
    parts = urlsplit(dsn)
    if parts.password:
        return dsn.replace(f":{parts.password}@", ":***@")
    return dsn


class ClickHouseStore:
    """All reads and writes brandpulse makes. Calls are synchronous; callers in asyncio use a thread.

    chDB is an in-process engine that is not safe to enter from several threads at once, so every
    call is serialised through one lock; against a server the lock costs nothing measurable.
    """

    def __init__(self, dsn: str, database: str = "brandpulse") -> None:
        self.dsn = dsn
        self.db = database
        self._client = connect(dsn)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._client.close()

    def ensure_schema(self) -> None:
        with self._lock:
            for stmt in schema_ddl(self.db):
                self._client.command(stmt)

    # ---- writes -------------------------------------------------------------------------
    def insert_scored(self, rows: Sequence[ScoredPost]) -> None:
        if not rows:
            return
        data = [
            [r.post_id, r.brand, r.platform, r.author, r.lang, r.text, r.created_at, r.ingested_at,
             r.label, r.probs, r.confidence, r.model_version, r.model_role]
            for r in rows
        ]
        with self._lock:
            self._client.insert(f"{self.db}.scored_posts", data, column_names=SCORED_COLUMNS)

    def insert_dead_letters(self, rows: Sequence[DeadLetter]) -> None:
        if not rows:
            return
        data = [
            [r.failed_at, r.error_kind, r.reason, r.source_topic, r.partition if r.partition is not None else -1,
             r.offset if r.offset is not None else -1, r.post_id, r.key_b64, r.value_b64]
            for r in rows
        ]
        with self._lock:
            self._client.insert(f"{self.db}.dead_letters", data, column_names=DEAD_LETTER_COLUMNS)

    def insert_alerts(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        cols = list(Alert.model_fields)
        data = [[getattr(a, c) for c in cols] for a in alerts]
        with self._lock:
            self._client.insert(f"{self.db}.alerts", data, column_names=cols)

    def insert_label_requests(self, reqs: Sequence[LabelRequest]) -> None:
        if not reqs:
            return
        cols = list(LabelRequest.model_fields)
        with self._lock:
            self._client.insert(f"{self.db}.label_queue", [[getattr(r, c) for c in cols] for r in reqs], column_names=cols)

    def insert_human_labels(self, labels: Sequence[HumanLabel]) -> None:
        if not labels:
            return
        cols = list(HumanLabel.model_fields)
        with self._lock:
            self._client.insert(f"{self.db}.human_labels", [[getattr(r, c) for c in cols] for r in labels], column_names=cols)

    # ---- reads --------------------------------------------------------------------------
    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._lock:
            result = self._client.query(sql, parameters=parameters or {})
        return [dict(zip(result.column_names, row)) for row in result.result_rows]

    def scalar(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        rows = self.query(sql, parameters)
        return next(iter(rows[0].values())) if rows else None


def retry_forever(
    op: Callable[[], T],
    *,
    what: str,
    initial: float = 0.5,
    maximum: float = 30.0,
    should_stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``op`` until it succeeds, backing off exponentially between failures.

    Used for storage writes the worker must not skip: giving up would mean either acknowledging
    posts that were never stored (loss) or crashing the agent (which acks its buffer on close).
    """
    delay = initial
    attempt = 1
    while True:
        try:
            return op()
        except Exception as exc:  # noqa: BLE001 - any storage failure is retried, none is fatal
            if should_stop():
                raise
            log.warning("%s failed (attempt %d): %s; retrying in %.1fs", what, attempt, exc, delay)
            sleep(delay)
            delay = min(delay * 2, maximum)
            attempt += 1
