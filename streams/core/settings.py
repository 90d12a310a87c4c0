"""One settings object for every brandpulse process.

Values come from environment variables prefixed ``BRANDPULSE_`` (or a ``.env`` file); CLI options
override them as constructor arguments. Each process builds one :class:`Settings` at its entry point
and passes it down; a child process gets its parent's settings as environment variables of its own
(:meth:`Settings.as_env`). Nothing else in the code base reads the environment, and nothing writes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.language import LanguageConfig
from streams.core.schemas import DEFAULT_MAX_TEXT_CHARS, MAX_TEXT_CHARS_BOUND


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BRANDPULSE_", env_file=".env", extra="ignore")

    # --- where local state lives (chDB data, MLflow store, model checkpoints, detector state)
    data_dir: Path = Field(default=Path(".brandpulse"), description="Local state directory")

    # --- Kafka
    kafka_url: str = Field(default="kafka://127.0.0.1:9092", description="Faust broker URL(s)")
    topic_prefix: str = Field(default="brandpulse", description="Topic names are <prefix>.<name>")
    topic_partitions: int = Field(default=4, ge=1, description="Partitions of the data topics (control topics have 1)")
    topic_replication: int = Field(default=1, ge=1, description="Replication factor of created topics")
    # Tansu needs ~half the session timeout to admit a consumer to a group; 6 s keeps startup quick
    # while still far above the time one scoring batch takes.
    session_timeout_s: float = Field(default=6.0, gt=0, description="Kafka consumer session timeout (s)")
    app_id: str = Field(default="brandpulse-worker", description="Faust app id = consumer group of the workers")
    roles: str = Field(
        default="score,store,watch",
        description="Worker roles run by this process (comma list of score, store, watch); all three = the embedded default",
    )

    # --- batching / scoring
    batch_max: int = Field(default=256, ge=1, description="Max posts per scoring batch (stream.take max)")
    # Every batch waits up to this long for posts; at half the maximum rate 0.2 s kept p95 under
    # 1.5 s where 0.5 s gave 3 s, and a full stream fills batches of batch_max long before it.
    batch_within_s: float = Field(default=0.2, gt=0, description="Max wait to fill a batch (stream.take within)")
    # None: the backend's own micro-batch size (models.scoring.factory.DEFAULT_BATCH_SIZE), or under
    # backend=auto the size the timing picked (16 and 64 are timed). On a GPU use 128-256.
    scorer_batch_size: int | None = Field(default=None, ge=1, description="Micro-batch size inside the scorer (default: per backend / timed)")
    max_length: int = Field(default=128, ge=8, le=512, description="Tokenizer truncation length")
    threads: int | None = Field(default=None, description="torch intra-op threads (default: all cores)")
    backend: Literal["auto", "torch", "torch-bf16", "onnx-int8", "onnx-fp32", "openvino", "openvino-int8"] = Field(
        default="auto",
        description=(
            "Scoring backend; auto = time the available ones on real tweets at start and after a model swap, keep the "
            "fastest at parity with fp32 (cached per model and machine); torch-bf16 needs a CPU with native bf16; "
            "onnx-int8 = dynamic int8; openvino = bf16 where native, else NNCF int8 (exports made on first use, cached)"
        ),
    )
    backend_budget_s: float = Field(default=20.0, gt=0, description="auto: time bound of the backend timing per model")
    backend_texts: int = Field(default=300, ge=32, description="auto: real tweets each backend is timed and checked on")
    languages: str = Field(default="en", description="Comma-separated ISO 639-1 languages the model scores")
    unsupported_language: Literal["store-unscored", "dead-letter"] = Field(
        default="store-unscored",
        description="Posts in other languages: store them with their language, unscored, or dead-letter them",
    )
    max_message_bytes: int = Field(
        default=1_000_000, ge=65_536,
        description="Largest record the worker sends (Kafka's message.max.bytes); larger ones are dead-lettered",
    )
    cache_entries: int = Field(default=0, ge=0, description="De-duplicating LRU cache of normalised texts (0 = off)")
    max_text_chars: int = Field(
        default=DEFAULT_MAX_TEXT_CHARS, ge=1, le=MAX_TEXT_CHARS_BOUND,
        description="Longer posts are dead-lettered (too_large); also the inference API's limit per text",
    )

    # --- models / registry
    model_ref: str = Field(default="champion", description="Registry alias, models:/ URI or checkpoint dir")
    challenger_ref: str | None = Field(
        default="challenger", description="Model scored in shadow when it exists; empty = no shadow scoring"
    )
    registered_model: str = Field(default="brandpulse-sentiment", description="MLflow registered model name")
    mlflow_tracking_uri: str | None = Field(
        default=None, description="MLflow store; default sqlite:///<data_dir>/mlflow.db"
    )

    # --- ClickHouse
    clickhouse_url: str | None = Field(
        default=None,
        description="chdb:///abs/dir (embedded) or http(s)://user:pass@host:8123; default chdb:///<data_dir>/clickhouse",
    )
    clickhouse_database: str = Field(default="brandpulse", description="ClickHouse database")

    # --- web (Faust worker's own web server: trends/dashboard/metrics for other processes)
    web_host: str = Field(default="127.0.0.1", description="Worker web server bind address (loopback by default)")
    web_port: int = Field(default=6066, description="Worker web port: /trends /stats /dashboard /metrics")

    # --- brands
    brand_rules: Path | None = Field(default=None, description="JSON file of brand rules (handles, hashtags, keywords per brand)")
    unknown_brand: Literal["dead-letter", "keep"] = Field(
        default="dead-letter", description="Posts whose brand is unknown: dead-letter them, or keep them under brand='unknown'"
    )

    # --- alerts
    brand_alert_config: Path | None = Field(
        default=None, description="JSON file of brand-alert thresholds (drift.brand.config.BrandWatchConfig); defaults otherwise"
    )
    alert_routes: Path | None = Field(
        default=None, description="JSON alert-rules file: brand alert kinds → Slack webhooks, thresholds, quiet hours, digests"
    )
    slack_webhook_url: SecretStr | None = Field(default=None, description="Slack incoming webhook; never logged")
    flyback_rate: float = Field(default=0.01, ge=0, le=1, description="Share of scored posts sampled for human labels")
    auto_promote: bool = Field(default=True, description="Promote a challenger that wins on human labels")
    promotion_margin: float = Field(default=0.02, ge=0, description="Macro-F1 gain a challenger needs to be promoted")
    promotion_min_labels: int = Field(default=200, ge=1, description="Human-labelled posts scored by both models before promotion")
    label_budget_per_hour: float = Field(
        default=120.0, ge=0, le=100_000,
        description="Training labels actively selected per hour per worker (uncertain, diverse, brand-balanced; 0 = off)",
    )
    drift_min_brand_posts: int = Field(default=1000, ge=1, description="Posts a brand needs before it gets its own drift track")
    watch_dedupe_posts: int = Field(
        default=100_000, ge=1_000, description="Recent post ids the watch role remembers so a redelivered post is not counted twice"
    )
    watch_commit_s: float = Field(
        default=2.0, gt=0, description="Watch role: save detector state and acknowledge the posts it covers this often (s)"
    )
    health_window: int = Field(
        default=500, ge=50, le=20_000, description="Posts per model-health check (estimated accuracy, input drift)"
    )
    health_embedding_sample: int = Field(
        default=256, ge=0, le=5_000,
        description=(
            "Scored posts per model-health check whose sentence vectors (from the forward pass that scored them) "
            "the input-drift test reads: a uniform sample of the posts since the previous check (0: off)"
        ),
    )
    health_min_interval_s: float = Field(
        default=1.0, ge=0, le=3600,
        description="A model-health check waits at least this long after the previous one, however fast posts arrive",
    )

    @property
    def language_config(self) -> LanguageConfig:
        langs = frozenset(x.strip().lower() for x in self.languages.split(",") if x.strip())
        return LanguageConfig(supported=langs, unsupported=self.unsupported_language)

    @property
    def state_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def clickhouse_dsn(self) -> str:
        return self.clickhouse_url or f"chdb://{self.state_dir / 'clickhouse'}"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.state_dir / 'mlflow.db'}"

    @property
    def kafka_bootstrap(self) -> str:
        """host:port list for plain Kafka clients (kafka-python / aiokafka)."""
        return ",".join(u.split("://", 1)[-1] for u in self.kafka_url.split(";"))

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"

    def as_env(self) -> dict[str, str]:
        """These settings as the ``BRANDPULSE_*`` variables of a child process's environment.

        Only values that differ from the defaults travel, so the child's own defaults stay in force;
        secrets travel too (a child needs them) but never appear in logs, which show ``Settings`` only.
        """
        env = {"BRANDPULSE_DATA_DIR": str(self.state_dir)}  # absolute: a child may start elsewhere
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if value == field.default or value is None or name == "data_dir":
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            env[f"BRANDPULSE_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
        return env
