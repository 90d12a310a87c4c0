"""ClickHouse storage: the :class:`streams.store.protocol.Store` implementation, and all of brandpulse's SQL.

The same code runs against embedded chDB (``chdb:///abs/dir``, the default) and a ClickHouse
server (``http://user:pass@host:8123``): both go through clickhouse-connect. The tables are in
:mod:`streams.store.clickhouse_schema`.

Idempotency: the worker acknowledges Kafka offsets only after a write succeeded, so a crash
redelivers posts that may already be stored. ``scored_posts`` is a ReplacingMergeTree keyed by
(brand, model_role, post_id): read it with ``FINAL`` (or the ``posts`` view) for one row per post.
The per-minute aggregate counts posts with ``uniqExact(post_id)`` so redelivered rows do not
double-count there either.
"""

from __future__ import annotations

import datetime as dt
import logging
import struct
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError, ProgrammingError
from pydantic import BaseModel

from drift.brand.post import BrandPost
from streams.store.clickhouse_schema import schema_ddl
from streams.core.schemas import Alert, DeadLetter, HumanLabel, LabelRequest, ScoredPost
from streams.store.protocol import (
    BrandPostOrder,
    GroupShareRow,
    LabelledOutcome,
    LanguageRow,
    ScoredLabel,
    ShadowRows,
    TrendRow,
    VoicesRow,
)

log = logging.getLogger(__name__)
# clickhouse-connect logs a traceback for every insert it cannot serialise; bisecting a batch makes
# several per refused row. insert_isolating reports each refused row once, as a dead letter.
logging.getLogger("clickhouse_connect.driver.transform").setLevel(logging.CRITICAL)

# The SQL twin of drift.brand.voices.normalise: leading "RT @user:", links, case, non-word runs.
_NORMALISED_TEXT = (
    "trimBoth(replaceRegexpAll(lowerUTF8(replaceRegexpAll(replaceRegexpOne(text, '^\\s*(?i:rt)\\s+@\\w+:?\\s*', ''), "
    "'(?i)https?://\\S+|www\\.\\S+', ' ')), '[^\\p{L}\\p{N}]+', ' '))"
)
_ROLES = {"champion": "champion", "shadow": "challenger"}  # stored model_role → served role


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.timezone.utc) if t.tzinfo is None else t.astimezone(dt.timezone.utc)


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def _alert(row: dict[str, Any]) -> Alert:
    since = row["since"]
    return Alert.model_validate({**row, "detected_at": _utc(row["detected_at"]), "since": _utc(since) if since else None})


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


class ClickHouseStore:
    """:class:`streams.store.protocol.Store` on ClickHouse. Calls are synchronous; callers in asyncio use a thread.

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

    def refuses(self, exc: BaseException) -> bool:
        return is_refused(exc)

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

    def insert_label_requests(self, requests: Sequence[LabelRequest]) -> None:
        self._insert("label_queue", requests)

    def insert_human_labels(self, labels: Sequence[HumanLabel]) -> None:
        self._insert("human_labels", labels)

    # ---- reads: raw SQL, for tests and operators; the application uses the typed reads below ----
    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._lock:
            result = self._client.query(sql, parameters=parameters or {})
        return [dict(zip(result.column_names, row)) for row in result.result_rows]

    def scalar(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        rows = self.query(sql, parameters)
        return next(iter(rows[0].values())) if rows else None

    # ---- trends (from the per-minute aggregate) -------------------------------------------
    def brands(self) -> list[str]:
        return [r["brand"] for r in self.query(f"SELECT DISTINCT brand FROM {self.db}.brand_minute ORDER BY brand")]

    def newest_minute(self, brand: str | None) -> dt.datetime | None:
        newest = self.scalar(
            f"SELECT max(minute) FROM {self.db}.brand_minute WHERE {{brand:String}} = '' OR brand = {{brand:String}}",
            {"brand": brand or ""},
        )
        # max() of no rows is the epoch, not NULL
        return _utc(newest) if newest is not None and newest.year >= 2000 else None

    def first_minute(self, brand: str | None) -> dt.datetime | None:
        first = self.scalar(
            f"SELECT min(minute) FROM {self.db}.brand_minute WHERE {{brand:String}} = '' OR brand = {{brand:String}}",
            {"brand": brand or ""},
        )
        return _utc(first) if first is not None and first.year >= 2000 else None

    def trend(self, brand: str | None, width: dt.timedelta, start: dt.datetime, end: dt.datetime) -> list[TrendRow]:
        rows = self.query(
            f"""SELECT toStartOfInterval(minute, toIntervalSecond({{width:UInt32}})) AS bucket,
                       uniqExactMerge(posts) AS posts,
                       uniqExactIfMerge(negative) AS negative,
                       uniqExactIfMerge(neutral) AS neutral,
                       uniqExactIfMerge(positive) AS positive,
                       avgMerge(confidence) AS mean_confidence
                FROM {self.db}.brand_minute
                WHERE ({{brand:String}} = '' OR brand = {{brand:String}})
                  AND minute >= toDateTime({{start:UInt32}}, 'UTC') AND minute < toDateTime({{end:UInt32}}, 'UTC')
                GROUP BY bucket ORDER BY bucket""",
            {"width": int(width.total_seconds()), "brand": brand or "", "start": int(start.timestamp()), "end": int(end.timestamp())},
        )
        # Mean probabilities over the deduplicated posts (FINAL): an average kept in the aggregate table
        # would count a redelivered post twice, where uniqExact does not.
        means = {
            _utc(r["bucket"]): (float(r["negative"]), float(r["neutral"]), float(r["positive"]))
            for r in self.query(
                f"""SELECT toStartOfInterval(created_at, toIntervalSecond({{width:UInt32}})) AS bucket,
                           avg(probs['negative']) AS negative, avg(probs['neutral']) AS neutral,
                           avg(probs['positive']) AS positive
                    FROM {self.db}.posts
                    WHERE ({{brand:String}} = '' OR brand = {{brand:String}})
                      AND created_at >= toDateTime({{start:UInt32}}, 'UTC') AND created_at < toDateTime({{end:UInt32}}, 'UTC')
                    GROUP BY bucket""",
                {"width": int(width.total_seconds()), "brand": brand or "", "start": int(start.timestamp()), "end": int(end.timestamp())},
            )
        }
        nan = (float("nan"),) * 3
        return [TrendRow(_utc(r["bucket"]), int(r["posts"]), int(r["negative"]), int(r["neutral"]), int(r["positive"]),
                         float(r["mean_confidence"]) if r["posts"] else 0.0, *means.get(_utc(r["bucket"]), nan))
                for r in rows]

    def post_counts(self) -> dict[str, int]:
        rows = self.query(f"SELECT brand, count() AS n FROM {self.db}.posts GROUP BY brand ORDER BY brand")
        return {r["brand"]: int(r["n"]) for r in rows}

    # ---- brand views ------------------------------------------------------------------------
    def brand_posts(
        self, brand: str, start: dt.datetime, end: dt.datetime, order: BrandPostOrder, limit: int
    ) -> list[BrandPost]:
        by = {"newest": "created_at DESC", "sample": "cityHash64(post_id)"}[order]
        rows = self.query(
            f"""SELECT post_id, brand, text, created_at, label, confidence, author FROM {self.db}.posts
                WHERE brand = {{brand:String}}
                  AND created_at >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC')
                  AND created_at < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC')
                ORDER BY {by} LIMIT {{limit:UInt32}}""",
            {"brand": brand, "start": _ms(start), "end": _ms(end), "limit": limit},
        )
        return [BrandPost(post_id=r["post_id"], brand=r["brand"], text=r["text"], created_at=_utc(r["created_at"]),
                          label=r["label"], confidence=float(r["confidence"]), author=r["author"]) for r in rows]

    def brand_alerts(self, brand: str, kinds: Sequence[str], start: dt.datetime, end: dt.datetime) -> list[Alert]:
        rows = self.query(
            f"""SELECT * FROM {self.db}.alerts FINAL
                WHERE brand = {{brand:String}} AND kind IN {{kinds:Array(String)}}
                  AND detected_at >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC')
                  AND detected_at < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC')
                ORDER BY detected_at""",
            {"brand": brand, "kinds": list(kinds), "start": _ms(start), "end": _ms(end)},
        )
        return [_alert(r) for r in rows]

    def group_shares(
        self, brands: Sequence[str], width: dt.timedelta, start: dt.datetime, end: dt.datetime
    ) -> list[GroupShareRow]:
        rows = self.query(
            f"""SELECT toStartOfInterval(minute, toIntervalSecond({{width:UInt32}})) AS bucket, brand,
                       uniqExactMerge(posts) AS posts, uniqExactIfMerge(negative) AS negative
                FROM {self.db}.brand_minute
                WHERE brand IN {{brands:Array(String)}}
                  AND minute >= toDateTime({{start:UInt32}}, 'UTC') AND minute < toDateTime({{end:UInt32}}, 'UTC')
                GROUP BY bucket, brand ORDER BY bucket, brand""",
            {"width": int(width.total_seconds()), "brands": list(brands), "start": int(start.timestamp()), "end": int(end.timestamp())},
        )
        return [GroupShareRow(_utc(r["bucket"]), r["brand"], int(r["posts"]), int(r["negative"])) for r in rows]

    def voices(self, brand: str, width: dt.timedelta, start: dt.datetime, end: dt.datetime) -> list[VoicesRow]:
        rows = self.query(
            f"""SELECT toStartOfInterval(created_at, toIntervalSecond({{width:UInt32}})) AS bucket,
                       count() AS posts, uniqExact(cityHash64({_NORMALISED_TEXT})) AS distinct_texts,
                       uniqExactIf(author, author IS NOT NULL) AS authors, countIf(label = 'negative') AS negative
                FROM {self.db}.posts
                WHERE brand = {{brand:String}}
                  AND created_at >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC')
                  AND created_at < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC')
                GROUP BY bucket ORDER BY bucket""",
            {"width": int(width.total_seconds()), "brand": brand, "start": _ms(start), "end": _ms(end)},
        )
        return [VoicesRow(_utc(r["bucket"]), int(r["posts"]), int(r["distinct_texts"]), int(r["authors"]), int(r["negative"]))
                for r in rows]

    def languages(self, brand: str, width: dt.timedelta, start: dt.datetime, end: dt.datetime) -> list[LanguageRow]:
        rows = self.query(
            f"""SELECT toStartOfInterval(created_at, toIntervalSecond({{width:UInt32}})) AS bucket,
                       ifNull(lang, '?') AS lang, count() AS n
                FROM {self.db}.posts
                WHERE brand = {{brand:String}}
                  AND created_at >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC')
                  AND created_at < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC')
                GROUP BY bucket, lang ORDER BY bucket, n DESC""",
            {"width": int(width.total_seconds()), "brand": brand, "start": _ms(start), "end": _ms(end)},
        )
        return [LanguageRow(_utc(r["bucket"]), r["lang"], int(r["n"])) for r in rows]

    # ---- dashboard, labels, models ---------------------------------------------------------
    def timeline_alerts(self, brand: str | None, start: dt.datetime, end: dt.datetime, limit: int) -> list[Alert]:
        rows = self.query(
            f"""SELECT * FROM {self.db}.alerts FINAL
                WHERE ({{brand:String}} = '' OR brand IS NULL OR brand = {{brand:String}})
                  AND coalesce(since, detected_at) >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC')
                  AND coalesce(since, detected_at) < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC')
                ORDER BY coalesce(since, detected_at) LIMIT {{limit:UInt32}}""",
            {"brand": brand or "", "start": _ms(start), "end": _ms(end), "limit": limit},
        )
        return [_alert(r) for r in rows]

    def open_label_requests(self, brand: str | None) -> int:
        return int(self.scalar(
            f"""SELECT count() FROM (SELECT post_id FROM {self.db}.label_queue FINAL
                                    WHERE {{brand:String}} = '' OR brand = {{brand:String}})
                WHERE post_id NOT IN (SELECT post_id FROM {self.db}.human_labels)""",
            {"brand": brand or ""},
        ) or 0)

    def labelled_outcomes(self, versions: Sequence[str]) -> list[LabelledOutcome]:
        if not versions:
            return []
        rows = self.query(
            f"""SELECT s.model_version AS version, s.label AS predicted, h.label AS human, uniqExact(h.post_id) AS n
                FROM (SELECT post_id, label FROM {self.db}.human_labels FINAL) AS h
                INNER JOIN (SELECT post_id, label, model_version FROM {self.db}.scored_posts FINAL
                            WHERE model_version IN {{versions:Array(String)}}) AS s ON h.post_id = s.post_id
                GROUP BY version, predicted, human""",
            {"versions": list(versions)},
        )
        return [LabelledOutcome(r["version"], r["predicted"], r["human"], int(r["n"])) for r in rows]

    def served_versions(self) -> dict[str, str]:
        rows = self.query(
            f"SELECT model_role AS role, argMax(model_version, ingested_at) AS version FROM {self.db}.scored_posts GROUP BY role"
        )
        return {_ROLES[r["role"]]: r["version"] for r in rows if r["role"] in _ROLES}

    def champion_labels(self, post_ids: Sequence[str]) -> list[ScoredLabel]:
        rows = self.query(
            f"SELECT post_id, label, model_version FROM {self.db}.scored_posts FINAL "
            f"WHERE model_role = 'champion' AND post_id IN {{ids:Array(String)}}",
            {"ids": list(post_ids)},
        )
        return [ScoredLabel(**r) for r in rows]

    def shadow_rows(self, champion: str, challenger: str) -> ShadowRows:
        db = self.db
        shadowed = f"SELECT post_id FROM {db}.scored_posts WHERE model_role = 'shadow' AND model_version = {{chall:String}}"
        params = {"champ": champion, "chall": challenger}
        champ = self.query(
            f"SELECT post_id, label, model_version FROM {db}.scored_posts FINAL WHERE model_role = 'champion' "
            f"AND model_version = {{champ:String}} AND post_id IN ({shadowed})", params)
        chall = self.query(
            f"SELECT post_id, label, model_version FROM {db}.scored_posts FINAL WHERE model_role = 'shadow' "
            f"AND model_version = {{chall:String}}", params)
        human = self.query(f"SELECT post_id, label, annotator FROM {db}.human_labels FINAL WHERE post_id IN ({shadowed})", params)
        return ShadowRows([ScoredLabel(**r) for r in champ], [ScoredLabel(**r) for r in chall],
                          [HumanLabel(post_id=h["post_id"], label=h["label"], annotator=h["annotator"]) for h in human])


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
