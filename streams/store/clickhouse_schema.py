"""The ClickHouse tables and views brandpulse keeps, as idempotent DDL (``CREATE … IF NOT EXISTS``,
``ADD COLUMN IF NOT EXISTS`` for tables created by older versions), and each table's retention TTL.

Every TTL counts from when brandpulse stored a row (``ingested_at``, ``requested_at``, ``labelled_at``,
``failed_at``, or a ``stored_at`` column where the table's own time is the data's time: alerts and the
per-minute aggregate are timed by when posts were written, which for a replayed corpus is years ago).
A table created by an older version gets its TTL from :func:`ttl_ddl` (``ALTER TABLE … MODIFY TTL``).
"""

from __future__ import annotations

from streams.core.settings import Retention

# The audit of erasures is kept for ever: it is the record that a person's request was carried out.
AUDIT_TABLE = "erasures"
# What one erasure is about to delete, while it runs (in memory: a crash leaves nothing on disk).
SCRATCH_TABLE = "erasure_scratch"
INTERNAL_TABLES = frozenset({AUDIT_TABLE, SCRATCH_TABLE})


def table_ttls(retention: Retention) -> dict[str, str | None]:
    """Each table's TTL expression (None: kept for ever), written as ClickHouse prints it back in
    ``system.tables.engine_full``, so an unchanged TTL is recognised and not applied again."""

    def ttl(column: str, days: int) -> str | None:
        return f"{column} + toIntervalDay({days})" if days else None

    return {
        "scored_posts": ttl("toDateTime(ingested_at)", retention.posts_days),
        "brand_minute": ttl("stored_at", retention.aggregates_days),
        "dead_letters": ttl("toDateTime(failed_at)", retention.dead_letters_days),
        "alerts": ttl("stored_at", retention.alerts_days),
        "label_queue": ttl("toDateTime(requested_at)", retention.label_requests_days),
        "human_labels": ttl("toDateTime(labelled_at)", retention.labels_days),
    }


def brand_minute_select(db: str, where: str = "") -> str:
    """The per-minute aggregate of champion posts: the materialized view's query, and how erasure
    recomputes the minutes it touched (``where`` narrows it)."""
    return f"""SELECT brand, toStartOfMinute(created_at) AS minute, model_version,
                   uniqExactState(post_id) AS posts,
                   uniqExactIfState(post_id, label = 'negative') AS negative,
                   uniqExactIfState(post_id, label = 'neutral') AS neutral,
                   uniqExactIfState(post_id, label = 'positive') AS positive,
                   avgState(confidence) AS confidence
            FROM {db}.scored_posts WHERE model_role = 'champion' {f"AND ({where})" if where else ""}
            GROUP BY brand, minute, model_version"""


def ttl_ddl(db: str, table: str, expression: str | None) -> str:
    """The statement that gives an existing table this TTL (or removes its TTL)."""
    if expression is None:
        return f"ALTER TABLE {db}.{table} REMOVE TTL"
    return f"ALTER TABLE {db}.{table} MODIFY TTL {expression}"


def schema_ddl(db: str, retention: Retention | None = None) -> list[str]:
    ttls = table_ttls(retention or Retention())

    def ttl(table: str) -> str:
        return f"TTL {ttls[table]}" if ttls[table] else ""

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
        ORDER BY (brand, model_role, post_id)
        {ttl("scored_posts")}""",
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
            confidence AggregateFunction(avg, Float32),
            -- when the newest row of this minute was stored: its retention clock (minute is the posts' time)
            stored_at SimpleAggregateFunction(max, DateTime('UTC')) DEFAULT now()
        ) ENGINE = AggregatingMergeTree
        ORDER BY (brand, minute, model_version)
        {ttl("brand_minute")}""",
        # Tables created before retention: rows already there are timed from this upgrade.
        f"ALTER TABLE {db}.brand_minute ADD COLUMN IF NOT EXISTS stored_at SimpleAggregateFunction(max, DateTime('UTC')) DEFAULT now()",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.brand_minute_mv TO {db}.brand_minute AS {brand_minute_select(db)}",
        f"""CREATE TABLE IF NOT EXISTS {db}.dead_letters (
            failed_at DateTime64(3, 'UTC'),
            error_kind LowCardinality(String),
            reason String,
            source_topic LowCardinality(String),
            partition Int32,
            offset Int64,
            last_offset Nullable(Int64),
            post_id Nullable(String),
            key_b64 Nullable(String),
            value_b64 String,
            value_bytes UInt64 DEFAULT 0,
            value_sha256 String DEFAULT '',
            truncated Bool DEFAULT false
        ) ENGINE = ReplacingMergeTree
        ORDER BY (source_topic, partition, offset)
        {ttl("dead_letters")}""",
        # Tables created before dead letters kept only the head of large values.
        f"ALTER TABLE {db}.dead_letters ADD COLUMN IF NOT EXISTS value_bytes UInt64 DEFAULT 0",
        f"ALTER TABLE {db}.dead_letters ADD COLUMN IF NOT EXISTS value_sha256 String DEFAULT ''",
        f"ALTER TABLE {db}.dead_letters ADD COLUMN IF NOT EXISTS truncated Bool DEFAULT false",
        # ...and before a dead letter could stand for a whole undecodable batch (offset..last_offset).
        f"ALTER TABLE {db}.dead_letters ADD COLUMN IF NOT EXISTS last_offset Nullable(Int64) AFTER offset",
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
            since Nullable(DateTime64(3, 'UTC')),
            resolution Nullable(String),
            resolves Nullable(String),
            retrain_id Nullable(String),
            retrain_opened Bool DEFAULT false,
            stored_at DateTime('UTC') DEFAULT now()
        ) ENGINE = ReplacingMergeTree
        ORDER BY alert_id
        {ttl("alerts")}""",
        f"ALTER TABLE {db}.alerts ADD COLUMN IF NOT EXISTS stored_at DateTime('UTC') DEFAULT now()",
        # ...and before alerts came in episodes (drift.episodes) and named the retrain they opened or joined.
        f"ALTER TABLE {db}.alerts ADD COLUMN IF NOT EXISTS resolution Nullable(String) AFTER since",
        f"ALTER TABLE {db}.alerts ADD COLUMN IF NOT EXISTS resolves Nullable(String) AFTER resolution",
        f"ALTER TABLE {db}.alerts ADD COLUMN IF NOT EXISTS retrain_id Nullable(String) AFTER resolves",
        f"ALTER TABLE {db}.alerts ADD COLUMN IF NOT EXISTS retrain_opened Bool DEFAULT false AFTER retrain_id",
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
        ORDER BY post_id
        {ttl("label_queue")}""",
        f"""CREATE TABLE IF NOT EXISTS {db}.human_labels (
            post_id String,
            label LowCardinality(String),
            annotator String,
            labelled_at DateTime64(3, 'UTC'),
            text Nullable(String)
        ) ENGINE = ReplacingMergeTree(labelled_at)
        ORDER BY post_id
        {ttl("human_labels")}""",
        # One row per erasure request: who asked, when, which kind, a SHA-256 of the identifier and
        # how many rows each table gave up. Never the identifier or anything erased.
        f"""CREATE TABLE IF NOT EXISTS {db}.{AUDIT_TABLE} (
            erasure_id String,
            requested_at DateTime64(3, 'UTC'),
            operator String,
            kind LowCardinality(String),
            identifier_sha256 String,
            rows Map(LowCardinality(String), UInt64),
            erasure_list UInt32
        ) ENGINE = MergeTree
        ORDER BY (requested_at, erasure_id)""",
        f"""CREATE TABLE IF NOT EXISTS {db}.{SCRATCH_TABLE} (
            erasure_id String,
            what LowCardinality(String),
            key String
        ) ENGINE = Memory""",
    ]
