"""The ClickHouse tables and views brandpulse keeps, as idempotent DDL (``CREATE … IF NOT EXISTS``,
``ADD COLUMN IF NOT EXISTS`` for tables created by older versions)."""

from __future__ import annotations


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
