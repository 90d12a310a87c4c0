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
import json
import logging
import re
import struct
import threading
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError, ProgrammingError
from pydantic import BaseModel

from drift.brand.post import BrandPost
from streams.core.schemas import Alert, DeadLetter, HumanLabel, LabelRequest, ScoredPost
from streams.core.settings import Retention
from streams.store.fatal_signals import crash_on_fatal_signals
from streams.store.clickhouse_schema import (
    AUDIT_TABLE,
    INTERNAL_TABLES,
    SCRATCH_TABLE,
    brand_minute_select,
    schema_ddl,
    table_ttls,
    ttl_ddl,
)
from streams.store.protocol import (
    BrandPostOrder,
    ErasureReport,
    ErasureRequest,
    GroupShareRow,
    LabelledOutcome,
    LanguageRow,
    TrendRow,
    VoicesRow,
    author_key,
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
# An author as erasure compares it (streams.store.protocol.author_key, in SQL).
_AUTHOR_KEY = "lowerUTF8(replaceRegexpOne(trimBoth(ifNull(author, '')), '^@', ''))"
_TTL_CLAUSE = re.compile(r"\sTTL\s(.+?)(?:\sSETTINGS\s|$)")
# Engines that keep no rows of their own (a materialized view here always writes TO a table).
_VIEW_ENGINES = frozenset({"View", "MaterializedView", "LiveView", "WindowView"})
# Wait until a mutation has rewritten every part (on every replica): erased means gone from the table.
# Erasure's mutations read the scratch table in a subquery, which replicated tables allow only when told.
_SYNC = "SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1"


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.timezone.utc) if t.tzinfo is None else t.astimezone(dt.timezone.utc)


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def _alert(row: dict[str, Any]) -> Alert:
    since = row["since"]
    return Alert.model_validate({**row, "detected_at": _utc(row["detected_at"]), "since": _utc(since) if since else None})


#: TLS options a server DSN may carry as query parameters, passed to clickhouse-connect as they are.
TLS_PARAMS = ("ca_cert", "client_cert", "client_cert_key", "verify")


def server_options(dsn: str) -> dict[str, Any]:
    """clickhouse-connect's arguments for ``http(s)://[user:pass@]host:port[?ca_cert=…&client_cert=…]``.

    ``https`` verifies the server against the system's CAs, or against ``ca_cert`` (a PEM file) when
    given; ``client_cert`` / ``client_cert_key`` add mutual TLS; ``verify=false`` is honoured but
    only ever meant for a test server. Unknown parameters are refused rather than ignored.
    """
    parts = urlsplit(dsn)
    if parts.scheme not in ("http", "https", "clickhouse"):
        raise ValueError(f"unsupported ClickHouse URL scheme {parts.scheme!r}: use chdb:///dir or http(s)://host:8123")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if unknown := sorted(set(query) - set(TLS_PARAMS)):
        raise ValueError(f"unknown ClickHouse URL parameters {unknown}; known: {', '.join(TLS_PARAMS)}")
    if query and parts.scheme != "https":
        raise ValueError(f"TLS parameters {sorted(query)} need an https:// ClickHouse URL")
    tls: dict[str, Any] = {k: v for k, v in query.items() if k != "verify"}
    if "verify" in query:
        tls["verify"] = query["verify"].lower() not in ("0", "false", "no")
    return dict(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (8443 if parts.scheme == "https" else 8123),
        username=parts.username or "default",
        password=parts.password or "",
        secure=parts.scheme == "https",
        **tls,
    )


def connect(dsn: str) -> Client:
    """A clickhouse-connect client for ``chdb:///dir`` or a server URL (:func:`server_options`)."""
    if dsn.startswith("chdb://"):
        client = clickhouse_connect.get_client(dsn=dsn)
        crash_on_fatal_signals()
        return client
    return clickhouse_connect.get_client(**server_options(dsn))


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

    def ensure_schema(self, retention: Retention | None = None) -> None:
        retention = retention or Retention()
        with self._lock:
            for stmt in schema_ddl(self.db, retention):
                self._client.command(stmt)
            # A TTL that changed (or a table made before retention existed) is altered; an unchanged one is
            # left alone, since MODIFY TTL rewrites the TTL information of every part of the table.
            for table, wanted in table_ttls(retention).items():
                if self._table_ttl(table) != wanted:
                    log.info("retention of %s.%s: %s", self.db, table, wanted or "kept for ever")
                    self._client.command(ttl_ddl(self.db, table, wanted))

    def _table_ttl(self, table: str) -> str | None:
        """The table's TTL expression as ClickHouse prints it; None when it has none."""
        result = self._client.query(
            "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {t:String}",
            parameters={"db": self.db, "t": table},
        )
        found = _TTL_CLAUSE.search(result.result_rows[0][0]) if result.result_rows else None
        return found.group(1).strip() if found else None

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

    # ---- erasure --------------------------------------------------------------------------------
    def erasure_targets(self, request: ErasureRequest) -> list[str]:
        if request.kind == "author":
            rows = self.query(f"SELECT DISTINCT post_id FROM ({_author_posts(self.db)}) ORDER BY post_id", _params(request))
            return [r["post_id"] for r in rows]
        stored = self.scalar(
            f"""SELECT (SELECT count() FROM {self.db}.scored_posts WHERE post_id = {{id:String}})
                     + (SELECT count() FROM {self.db}.label_queue WHERE post_id = {{id:String}})
                     + (SELECT count() FROM {self.db}.human_labels WHERE post_id = {{id:String}})
                     + (SELECT count() FROM {self.db}.dead_letters WHERE {_dead_letter_match()})""",
            _params(request),
        )
        if stored:
            return [request.identifier]
        # Nothing stored: still queued in Kafka perhaps, unless an earlier erasure of this post blocked it.
        erased_before = self.scalar(
            f"SELECT count() FROM {self.db}.{AUDIT_TABLE} WHERE kind = 'post' AND identifier_sha256 = {{h:String}}",
            {"h": request.identifier_sha256},
        )
        return [] if erased_before else [request.identifier]

    def erase(self, request: ErasureRequest, erasure_list: int = 0) -> ErasureReport:
        """See :meth:`streams.store.protocol.Store.erase`.

        The rows to delete are first collected into the scratch table by queries, and every mutation
        names them only through it: ClickHouse keeps the text of recent mutations (``system.mutations``,
        on disk with the table), which must not carry the person's name or post ids.
        """
        erasure_id = uuid.uuid4().hex
        db, scratch = self.db, f"{self.db}.{SCRATCH_TABLE}"
        params: dict[str, Any] = {**_params(request), "eid": erasure_id}
        posts = f"(SELECT key FROM {scratch} WHERE erasure_id = {{eid:String}} AND what = 'post')"
        letters = f"(SELECT key FROM {scratch} WHERE erasure_id = {{eid:String}} AND what = 'dead_letter')"
        found_posts = _author_posts(db) if request.kind == "author" else "SELECT {id:String} AS post_id"
        tables = self.query("SELECT name, engine FROM system.tables WHERE database = {db:String} ORDER BY name", {"db": db})
        views = [t["name"] for t in tables if t["engine"] in _VIEW_ENGINES]
        stored = {t["name"] for t in tables if t["engine"] not in _VIEW_ENGINES} - INTERNAL_TABLES
        rows: dict[str, int] = {}
        try:
            with self._lock:
                self._client.command(f"INSERT INTO {scratch} SELECT DISTINCT {{eid:String}}, 'post', post_id FROM ({found_posts}) "
                                     "WHERE post_id != ''", parameters=params)
                self._client.command(
                    f"INSERT INTO {scratch} SELECT DISTINCT {{eid:String}}, 'dead_letter', {_DEAD_LETTER_KEY} FROM {db}.dead_letters "
                    f"WHERE {_dead_letter_match()} OR ifNull(post_id, '') IN {posts} "
                    f"OR tryBase64Decode(ifNull(key_b64, '')) IN {posts}",
                    parameters=params,
                )
            # The minutes whose aggregate counted these posts, found before the posts go.
            minutes = [tuple(r.values()) for r in self.query(
                f"SELECT DISTINCT brand, toStartOfMinute(created_at) AS minute FROM {db}.scored_posts "
                f"WHERE model_role = 'champion' AND post_id IN {posts}", params)]
            for table in ("scored_posts", "label_queue", "human_labels"):
                rows[table] = self._delete(table, f"post_id IN {posts}", params)
            rows["dead_letters"] = self._delete("dead_letters", f"{_DEAD_LETTER_KEY} IN {letters}", params)
            rows["alerts"] = self._scrub_alerts(request, posts, params)
            rows["brand_minute"] = self._recount_minutes(minutes)
        finally:
            with self._lock:
                self._client.command(f"ALTER TABLE {scratch} DELETE WHERE erasure_id = {{eid:String}} {_SYNC}", parameters=params)
        report = ErasureReport(
            erasure_id=erasure_id, operator=request.operator, kind=request.kind, identifier_sha256=request.identifier_sha256,
            rows={t: rows[t] for t in sorted(stored & rows.keys())}, erasure_list=erasure_list, views=views,
            unhandled=sorted(stored - rows.keys()),
        )
        if report.unhandled:
            log.error("erasure %s did not look in tables it does not know: %s", erasure_id, ", ".join(report.unhandled))
        with self._lock:
            self._client.insert(
                f"{db}.{AUDIT_TABLE}",
                [[erasure_id, report.requested_at, report.operator, report.kind, report.identifier_sha256, report.rows, erasure_list]],
                column_names=["erasure_id", "requested_at", "operator", "kind", "identifier_sha256", "rows", "erasure_list"],
            )
        log.info("erasure %s (%s): %d rows removed, %d post ids on the erasure list",
                 erasure_id, report.kind, sum(report.rows.values()), erasure_list)
        return report

    def _delete(self, table: str, where: str, params: dict[str, Any]) -> int:
        """Delete the matching rows for good (a mutation rewrites the parts that hold them); how many there were."""
        found = int(self.scalar(f"SELECT count() FROM {self.db}.{table} WHERE {where}", params) or 0)
        if found:
            with self._lock:
                self._client.command(f"ALTER TABLE {self.db}.{table} DELETE WHERE {where} {_SYNC}", parameters=params)
        return found

    def _scrub_alerts(self, request: ErasureRequest, posts: str, params: dict[str, Any]) -> int:
        """Alerts stay, without the erased posts among their examples and without the person's @handle
        in their message (a brand alert names the handles its posts were about); how many changed."""
        named = f" OR match(message, {_HANDLE})" if request.kind == "author" else ""
        message = f"replaceRegexpAll(message, {_HANDLE}, {{erased_handle:String}})" if named else "message"
        changed = self.query(
            f"""SELECT DISTINCT alert_id, arrayFilter(x -> x NOT IN {posts}, example_post_ids) AS examples, {message} AS message
                FROM {self.db}.alerts WHERE hasAny(example_post_ids, (SELECT groupArray(key) FROM {posts})){named}""",
            params,
        )
        # The new values are computed above and written as they are, so the mutation names no one.
        for alert in changed:
            with self._lock:
                self._client.command(
                    f"ALTER TABLE {self.db}.alerts UPDATE example_post_ids = {{examples:Array(String)}}, message = {{message:String}} "
                    f"WHERE alert_id = {{alert_id:String}} {_SYNC}",
                    parameters=alert,
                )
        return len({a["alert_id"] for a in changed})

    def _recount_minutes(self, minutes: list[tuple[Any, ...]]) -> int:
        """Count these minutes of the per-minute aggregate again from the posts that remain; how many rows were replaced."""
        if not minutes:
            return 0
        params = {"minutes": minutes}
        in_minutes = "IN {minutes:Array(Tuple(String, DateTime('UTC')))}"
        replaced = self._delete("brand_minute", f"(brand, minute) {in_minutes}", params)
        with self._lock:
            self._client.command(
                f"INSERT INTO {self.db}.brand_minute (brand, minute, model_version, posts, negative, neutral, positive, confidence) "
                + brand_minute_select(self.db, f"(brand, toStartOfMinute(created_at)) {in_minutes}"),
                parameters=params,
            )
        return replaced


# How erasure finds an author's posts: by the author of scored posts, and the post id of dead letters naming them.
def _author_posts(db: str) -> str:
    return f"""SELECT post_id FROM {db}.scored_posts WHERE {_AUTHOR_KEY} = {{author:String}}
               UNION ALL
               SELECT ifNull(post_id, '') FROM {db}.dead_letters WHERE ifNull(post_id, '') != '' AND {_dead_letter_match()}"""


# One dead letter, by where it came from and what it held (positionless ones share their position).
_DEAD_LETTER_KEY = "concat(source_topic, '/', toString(partition), '/', toString(offset), '/', toString(cityHash64(value_b64)))"
# An @handle in an alert message: the author as erasure compares it, then a non-word character or the end.
_HANDLE = "concat('(?i)@', regexpQuoteMeta({author:String}), '(\\\\W|$)')"


def _json_strings(text: str) -> list[str]:
    """``text`` as a JSON string, in both the escaped-ASCII and the plain UTF-8 spelling."""
    return sorted({json.dumps(text), json.dumps(text, ensure_ascii=False)})


def _params(request: ErasureRequest) -> dict[str, Any]:
    """The query parameters that find a request's person: the author's compared form, the post id,
    and what finds either in dead letters' raw bytes.

    A dead letter is a record that failed to parse, so it is searched as bytes: for the identifier
    as a JSON string anywhere (an author also with a leading ``@``; case-insensitive), and a numeric
    post id as the ``post_id`` number. A record that merely quotes the name goes too: over-erasing a
    refused record is the safe side.
    """
    if request.kind == "author":
        key = author_key(request.identifier)
        return {"author": key, "id": "", "number": "", "needles": _json_strings(key) + _json_strings("@" + key),
                "erased_handle": "@[erased]\\1"}
    post_id = request.identifier
    number = f'"post_id"\\s*:\\s*{post_id}([^0-9.]|$)' if post_id.isdigit() else ""
    return {"author": "", "id": post_id, "number": number, "needles": _json_strings(post_id)}


def _dead_letter_match() -> str:
    value = "tryBase64Decode(value_b64)"
    return (f"(multiSearchAnyCaseInsensitiveUTF8({value}, {{needles:Array(String)}})"
            " OR ({id:String} != '' AND (ifNull(post_id, '') = {id:String} OR tryBase64Decode(ifNull(key_b64, '')) = {id:String}))"
            f" OR ({{number:String}} != '' AND match({value}, {{number:String}})))")

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
