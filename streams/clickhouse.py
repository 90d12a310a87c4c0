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
import struct
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError, ProgrammingError
from pydantic import BaseModel

from streams.retry import retry_forever
from streams.schemas import Alert, DeadLetter, HumanLabel, LabelRequest, ScoredPost

log = logging.getLogger(__name__)
T = TypeVar("T")
# clickhouse-connect logs a traceback for every insert it cannot serialise; bisecting a batch makes
# several per refused row. insert_isolating reports each refused row once, as a dead letter.
logging.getLogger("clickhouse_connect.driver.transform").setLevel(logging.CRITICAL)

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
            model_role LowCardinality(String),
            reposts UInt32 DEFAULT 0,
            followers UInt32 DEFAULT 0
        ) ENGINE = ReplacingMergeTree(ingested_at)
        PARTITION BY toYYYYMM(created_at)
        ORDER BY (brand, model_role, post_id)""",
        # Tables created before reach was kept.
        f"ALTER TABLE {db}.scored_posts ADD COLUMN IF NOT EXISTS reposts UInt32 DEFAULT 0",
        f"ALTER TABLE {db}.scored_posts ADD COLUMN IF NOT EXISTS followers UInt32 DEFAULT 0",
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
            value_b64 String,
            value_bytes UInt64 DEFAULT 0,
            value_sha256 String DEFAULT '',
            truncated Bool DEFAULT false
        ) ENGINE = ReplacingMergeTree
        ORDER BY (source_topic, partition, offset)""",
        # Tables created before dead letters kept only the head of large values.
        f"ALTER TABLE {db}.dead_letters ADD COLUMN IF NOT EXISTS value_bytes UInt64 DEFAULT 0",
        f"ALTER TABLE {db}.dead_letters ADD COLUMN IF NOT EXISTS value_sha256 String DEFAULT ''",
        f"ALTER TABLE {db}.dead_letters ADD COLUMN IF NOT EXISTS truncated Bool DEFAULT false",
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
    def _insert(self, table: str, records: Sequence[BaseModel]) -> None:
        """Insert pydantic records whose field names are the table's columns."""
        if not records:
            return
        cols = list(type(records[0]).model_fields)
        data = [[getattr(r, c) for c in cols] for r in records]
        with self._lock:
            self._client.insert(f"{self.db}.{table}", data, column_names=cols)

    def insert_scored(self, rows: Sequence[ScoredPost]) -> None:
        self._insert("scored_posts", rows)

    def insert_dead_letters(self, rows: Sequence[DeadLetter]) -> None:
        # The table keys on (topic, partition, offset); -1 marks a record that had no position.
        self._insert("dead_letters", [
            r.model_copy(update={"partition": -1 if r.partition is None else r.partition,
                                 "offset": -1 if r.offset is None else r.offset})
            for r in rows
        ])

    def insert_alerts(self, alerts: Sequence[Alert]) -> None:
        self._insert("alerts", alerts)

    def insert_label_requests(self, reqs: Sequence[LabelRequest]) -> None:
        self._insert("label_queue", reqs)

    def insert_human_labels(self, labels: Sequence[HumanLabel]) -> None:
        self._insert("human_labels", labels)

    # ---- reads --------------------------------------------------------------------------
    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._lock:
            result = self._client.query(sql, parameters=parameters or {})
        return [dict(zip(result.column_names, row)) for row in result.result_rows]

    def scalar(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        rows = self.query(sql, parameters)
        return next(iter(rows[0].values())) if rows else None


# Server error codes that mean "this data is refused", whatever the state of the server: retrying the
# same rows can never succeed, so they are isolated and dead-lettered. Every other server error
# (unknown table, memory, too many parts, timeouts, read-only replica, ...) means "unavailable now".
DATA_ERROR_CODES = frozenset({
    6,    # CANNOT_PARSE_TEXT
    26,   # CANNOT_PARSE_QUOTED_STRING
    27,   # CANNOT_PARSE_INPUT_ASSERTION_FAILED
    38,   # CANNOT_PARSE_DATE
    41,   # CANNOT_PARSE_DATETIME
    53,   # TYPE_MISMATCH
    69,   # ARGUMENT_OUT_OF_BOUND
    70,   # CANNOT_CONVERT_TYPE
    72,   # CANNOT_PARSE_NUMBER
    117,  # INCORRECT_DATA
    131,  # TOO_LARGE_STRING_SIZE
    190,  # SIZES_OF_ARRAYS_DONT_MATCH
    321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
    349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
    407,  # DECIMAL_OVERFLOW
})


def is_refused(exc: BaseException) -> bool:
    """True when a write failed because of the rows themselves, False when storage is unavailable.

    Client-side serialisation errors (a string that is not UTF-8, a value out of a column's range)
    are about the data; connection errors and server errors outside :data:`DATA_ERROR_CODES` are not.
    A ProgrammingError (unknown column, wrong column count) refuses every row alike: it is a schema
    problem to fix, retried with backoff, not a reason to dead-letter the whole stream.
    """
    if isinstance(exc, (OperationalError, ProgrammingError)):
        return False
    if isinstance(exc, DataError):
        return True
    if isinstance(exc, DatabaseError):
        return getattr(exc, "code", None) in DATA_ERROR_CODES
    return isinstance(exc, (ValueError, TypeError, OverflowError, UnicodeError, struct.error))


def insert_isolating(rows: Sequence[T], insert: Callable[[Sequence[T]], None]) -> list[tuple[T, BaseException]]:
    """Insert ``rows``; when the store refuses the data, bisect to find exactly the refused rows.

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
        if not is_refused(exc):
            raise
        if len(rows) == 1:
            return [(rows[0], exc)]
    mid = len(rows) // 2
    return insert_isolating(rows[:mid], insert) + insert_isolating(rows[mid:], insert)


def write_logging_refusals(insert: Callable[[Sequence[T]], None], rows: Sequence[T], *, what: str) -> None:
    """Insert monitoring records (alerts, label requests, labels): wait out an unavailable store; a row
    it refuses is logged, never retried for ever (that would stall the batch that raised it)."""
    for row, exc in retry_forever(lambda: insert_isolating(rows, insert), what=what):
        log.error("%s: ClickHouse refused %r: %r", what, row, exc)
