"""One settings object for every brandpulse process.

Values come from environment variables prefixed ``BRANDPULSE_`` (or a ``.env`` file, or secret files
in the secrets directory: ``Settings(_secrets_dir=...)``, ``BRANDPULSE_SECRETS_DIR`` or /run/secrets where
it exists); CLI options override them as constructor arguments. Nested settings (:class:`KafkaSecurity`)
take ``__`` between the levels: ``BRANDPULSE_KAFKA_SECURITY__SASL_PASSWORD``. Each process builds one
:class:`Settings` at its entry point
and passes it down; a child process gets its parent's settings as environment variables of its own
(:meth:`Settings.as_env`). Nothing else in the code base reads the environment, and nothing writes it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from models.language import LanguageConfig
from models.quality_floor import DEFAULT_FLOOR
from streams.core.schemas import DEFAULT_MAX_TEXT_CHARS, MAX_TEXT_CHARS_BOUND


#: Where Docker and Compose mount secrets (BRANDPULSE_SECRETS_DIR elsewhere, e.g. a Kubernetes secret volume):
#: a file named like the variable in lower case (brandpulse_web_token) sets the field.
SECRETS_DIR = Path("/run/secrets")
#: Shortest web token accepted: a guessable token is no protection on a network.
MIN_TOKEN_CHARS = 16


class KafkaSecurity(BaseModel):
    """How every Kafka client of brandpulse (Faust, aiokafka, kafka-python) reaches a secured cluster.

    The names follow Kafka's own client settings (``security.protocol``, ``sasl.mechanism``,
    ``ssl.truststore``...), so a managed cluster's connection page maps onto them one to one.
    :mod:`streams.kafka.security` turns this into each library's arguments.
    """

    # A validation error must not echo what was given: that may be the password.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="Kafka security.protocol: SSL = TLS, SASL_SSL = a user and password over TLS"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="PLAIN", description="SASL mechanism (SASL_* protocols): PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
    )
    sasl_username: str | None = Field(default=None, description="SASL user (API key on Confluent Cloud)")
    sasl_password: SecretStr | None = Field(default=None, description="SASL password (API secret); never logged")
    ssl_cafile: FilePath | None = Field(
        default=None, description="PEM file of the CA(s) that signed the brokers' certificates; default: the system's"
    )
    ssl_certfile: FilePath | None = Field(default=None, description="Client certificate (PEM) for mutual TLS")
    ssl_keyfile: FilePath | None = Field(default=None, description="Private key (PEM) of the client certificate")
    ssl_key_password: SecretStr | None = Field(default=None, description="Password of an encrypted private key")
    ssl_check_hostname: bool = Field(default=True, description="Check that a broker's certificate names its host")
    connect_timeout_s: float = Field(
        default=10.0, gt=0, le=300,
        description="A process gives up connecting after this long, with the reason (wrong password, untrusted CA...)",
    )

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @model_validator(mode="after")
    def _consistent(self) -> "KafkaSecurity":
        # Each check refuses a setting that would otherwise be ignored silently, e.g. a CA file with
        # PLAINTEXT: the operator believes the connection is encrypted when it is not.
        if self.uses_sasl and (not self.sasl_username or self.sasl_password is None):
            raise ValueError(f"protocol {self.protocol} needs sasl_username and sasl_password")
        if not self.uses_sasl and (self.sasl_username or self.sasl_password is not None):
            raise ValueError(f"sasl_username/sasl_password are set but protocol {self.protocol} does not use SASL")
        tls_files = [self.ssl_cafile, self.ssl_certfile, self.ssl_keyfile, self.ssl_key_password]
        if not self.uses_tls and any(v is not None for v in tls_files):
            raise ValueError(f"ssl_* files are set but protocol {self.protocol} does not use TLS (SSL or SASL_SSL)")
        if (self.ssl_keyfile or self.ssl_key_password) and not self.ssl_certfile:
            raise ValueError("ssl_keyfile/ssl_key_password need ssl_certfile (the client certificate)")
        return self

    def describe(self) -> str:
        """One line for logs and errors: how this process connects, without any secret."""
        parts = [self.protocol]
        if self.uses_sasl:
            parts.append(f"{self.sasl_mechanism} as {self.sasl_username!r}")
        if self.uses_tls:
            parts.append(f"CA {self.ssl_cafile or 'system'}")
            if self.ssl_certfile:
                parts.append(f"client certificate {self.ssl_certfile}")
        return ", ".join(parts)


# The longest retention a ClickHouse DateTime can express from now on (it ends in 2106), with room.
MAX_RETENTION_DAYS = 36_500


class Retention(BaseModel):
    """How long each ClickHouse table keeps a row, in days after it was stored (0 = for ever).

    Counted from when brandpulse stored the row, never from when the post was written: a replayed
    corpus from 2015 is kept as long as a live post. The defaults are the documented ones
    (docs/operations.md); ``Settings.retention_*_days`` override them.
    """

    model_config = ConfigDict(frozen=True)

    posts_days: int = Field(default=90, ge=0, le=MAX_RETENTION_DAYS, description="scored_posts: texts, authors, scores (shadow rows too)")
    label_requests_days: int = Field(default=90, ge=0, le=MAX_RETENTION_DAYS, description="label_queue: posts queued for labelling, with their text")
    labels_days: int = Field(default=365, ge=0, le=MAX_RETENTION_DAYS, description="human_labels: people's labels (with the text they saw)")
    dead_letters_days: int = Field(default=30, ge=0, le=MAX_RETENTION_DAYS, description="dead_letters: refused records and their raw bytes")
    alerts_days: int = Field(default=365, ge=0, le=MAX_RETENTION_DAYS, description="alerts: messages and example post ids")
    aggregates_days: int = Field(default=730, ge=0, le=MAX_RETENTION_DAYS, description="brand_minute: per-minute counts behind trends")


_RETENTION = Retention()


class Settings(BaseSettings):
    # Errors name the field and the rule, never the value: it may be a token, a password or a webhook.
    model_config = SettingsConfigDict(
        env_prefix="BRANDPULSE_", env_file=".env", extra="ignore",
        env_nested_delimiter="__", secrets_nested_delimiter="__", hide_input_in_errors=True,
    )

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then .env, then secret files: a file per field, nested ones
        too (<secrets_dir>/brandpulse_kafka_security__sasl_password).

        The secrets directory is ``_secrets_dir`` when given, else BRANDPULSE_SECRETS_DIR, else
        :data:`SECRETS_DIR` where it exists (Docker and Compose mount secrets there).
        """
        default_dir = Path(os.environ.get("BRANDPULSE_SECRETS_DIR") or SECRETS_DIR)
        secrets = NestedSecretsSettingsSource(
            file_secret_settings, secrets_dir=None if getattr(file_secret_settings, "secrets_dir", None) else default_dir,
            secrets_dir_missing="ok",
        )
        return init_settings, env_settings, dotenv_settings, secrets

    # --- where local state lives (chDB data, MLflow store, model checkpoints, detector state)
    data_dir: Path = Field(default=Path(".brandpulse"), description="Local state directory")

    # --- Kafka
    kafka_url: str = Field(default="kafka://127.0.0.1:9092", description="Faust broker URL(s)")
    kafka_security: KafkaSecurity = Field(
        default_factory=KafkaSecurity,
        description="TLS / SASL of every Kafka client (BRANDPULSE_KAFKA_SECURITY__PROTOCOL, __SASL_PASSWORD, ...)",
    )
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
    backend_budget_s: float = Field(default=120.0, gt=0, description="auto: time bound of the backend timing and parity per model")
    backend_texts: int = Field(
        default=2000, ge=32,
        description="auto: real tweets each backend's parity is judged on (the first 512 are timed); enough that a 0.01 macro-F1 loss is told from noise",
    )
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
    # Threads that allocate and free in turn (scoring, inserts, checks) leave free pages inside glibc's
    # arenas that only a trim hands back: 20-50 MB at a time in a worker mid-flood (docs/benchmarks.md).
    heap_trim_interval_s: float = Field(
        default=60.0, ge=0, le=86_400,
        description="Worker: hand glibc's free heap pages back to the OS this often (s; 0 = only after a model swap)",
    )
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
    champion_floor: float = Field(
        default=DEFAULT_FLOOR, ge=0, le=1,
        description="Held-out macro-F1 the first-run default model needs before it is registered as champion (see models.quality_floor)",
    )
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
    trainer_host: str = Field(default="127.0.0.1", description="Trainer status endpoint bind address (loopback by default)")
    trainer_port: int = Field(
        default=6067, ge=0, le=65535, description="Trainer status port: GET /status (pending, running, last outcomes); 0 = none"
    )
    # One token for every web part (API, dashboard, worker views, /metrics): the dashboard and the CLI
    # send the same one to the worker. streams.core.web_auth holds the policy.
    web_token: SecretStr | None = Field(
        default=None,
        description=(
            "Token every web part requires (Authorization: Bearer <token>, or basic auth with it as the password); "
            "needed to bind beyond loopback; also read from the secret file brandpulse_web_token; never logged"
        ),
    )
    web_allow_unauthenticated: bool = Field(
        default=False, description="Let web parts bind beyond loopback without a token (only behind a proxy that authenticates)"
    )

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
    alert_resolve_after_min: float = Field(
        default=120.0, gt=0,
        description="A model-watch alert episode (per kind, model version, brand) resolves after this many minutes of data time without an alert of its key",
    )
    alert_cooldown_min: float = Field(
        default=60.0, ge=0, description="After an alert episode resolved, minutes of data time before its key may open another",
    )
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
    scored_vector_share: float = Field(
        default=1.0, ge=0.0, le=1.0,
        description=(
            "Split roles: share of champion rows a scoring-only process publishes with their sentence vector "
            "(float16, about 1 KB each), by post id; the watch role samples input-drift vectors from these "
            "and never runs the encoder on posts. Lower it to trade detection power for topic volume (0: "
            "the watch role tests text descriptors only)"
        ),
    )
    health_min_interval_s: float = Field(
        default=1.0, ge=0, le=3600,
        description="A model-health check waits at least this long after the previous one, however fast posts arrive",
    )

    # --- retention (days after a row was stored; 0 = keep for ever). Applied as ClickHouse TTLs on every start.
    retention_posts_days: int = Field(default=_RETENTION.posts_days, ge=0, le=MAX_RETENTION_DAYS,
                                      description="Scored posts (text, author, scores) are deleted this many days after they were stored")
    retention_label_requests_days: int = Field(default=_RETENTION.label_requests_days, ge=0, le=MAX_RETENTION_DAYS,
                                               description="Label requests (with the post text) kept this many days")
    retention_labels_days: int = Field(default=_RETENTION.labels_days, ge=0, le=MAX_RETENTION_DAYS,
                                       description="Human labels kept this many days")
    retention_dead_letters_days: int = Field(default=_RETENTION.dead_letters_days, ge=0, le=MAX_RETENTION_DAYS,
                                             description="Dead letters (raw bytes of refused records) kept this many days")
    retention_alerts_days: int = Field(default=_RETENTION.alerts_days, ge=0, le=MAX_RETENTION_DAYS,
                                       description="Alerts kept this many days after they were stored")
    retention_aggregates_days: int = Field(default=_RETENTION.aggregates_days, ge=0, le=MAX_RETENTION_DAYS,
                                           description="Per-minute brand aggregates (trends) kept this many days after their last update")


    @field_validator("web_token")
    @classmethod
    def _usable_token(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty token (``BRANDPULSE_WEB_TOKEN=`` in an .env) means none; a short one is refused, not used."""
        if value is None:
            return None
        raw = value.get_secret_value().strip()  # secret files usually end with a newline
        if not raw:
            return None
        if len(raw) < MIN_TOKEN_CHARS:
            raise ValueError(f"the web token has {len(raw)} characters; use at least {MIN_TOKEN_CHARS} random ones")
        return SecretStr(raw)

    @property
    def retention(self) -> Retention:
        return Retention(**{name: getattr(self, f"retention_{name}") for name in Retention.model_fields})

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
        for name, value in _changed(self):
            if name == "data_dir":
                continue
            if isinstance(value, BaseModel):  # nested settings travel one variable per field
                env.update({f"BRANDPULSE_{name.upper()}__{sub.upper()}": _env_value(v) for sub, v in _changed(value)})
            else:
                env[f"BRANDPULSE_{name.upper()}"] = _env_value(value)
        return env


def _changed(model: BaseModel) -> list[tuple[str, object]]:
    """The fields of ``model`` that differ from their defaults (and are set)."""
    out = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        default = field.get_default(call_default_factory=True)
        if value is not None and value != default:
            out.append((name, value))
    return out


def _env_value(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value).lower() if isinstance(value, bool) else str(value)
