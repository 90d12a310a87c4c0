"""Prometheus metrics of a brandpulse process (worker or API), one registry per process.

Each process keeps its own :class:`Metrics` (never the prometheus_client global registry) so tests
and embedded apps can create as many as they like without "duplicated timeseries" errors. The
worker uses the module default through :func:`record_batch` / :func:`record_alert`; the API owns
one per app instance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from streams.core.schemas import Alert, DeadLetter, ScoredPost

# Posts per batch: the worker takes up to settings.batch_max (256 by default) records at once.
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
# CPU transformer scoring: ~5 ms for one short text up to tens of seconds for a full batch.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class BatchLike(Protocol):
    """What :func:`record_batch` reads from :class:`streams.worker.pipeline.BatchResult`."""

    scored: list[ScoredPost]
    shadow: list[ScoredPost]
    dead: list[DeadLetter]


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.posts_scored = Counter(
            "brandpulse_posts_scored", "Posts scored and stored, by model role", ["role"], registry=r
        )
        self.batch_size = Histogram(
            "brandpulse_batch_size", "Records per worker batch (valid + dead-lettered)", buckets=BATCH_SIZE_BUCKETS, registry=r
        )
        self.batch_seconds = Histogram(
            "brandpulse_batch_seconds", "Worker batch latency: validate, score, store and publish",
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.scoring_seconds = Histogram(
            "brandpulse_scoring_seconds", "Model scoring latency of one call, by caller", ["source"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.texts_scored = Counter("brandpulse_texts_scored", "Texts scored, by caller", ["source"], registry=r)
        self.dead_letters = Counter("brandpulse_dead_letters", "Dead-lettered records, by error kind", ["kind"], registry=r)
        self.alerts = Counter("brandpulse_drift_alerts", "Alerts raised, by kind", ["kind"], registry=r)
        self.model_info = Gauge(
            "brandpulse_model_info", "Model served per role (value 1; version in the label)", ["role", "version"], registry=r
        )
        self.api_requests = Counter(
            "brandpulse_api_requests", "Inference API requests, by path and status", ["path", "status"], registry=r
        )
        self.backend_info = Gauge(
            "brandpulse_scoring_backend_info", "Scoring backend per role (value 1): backend, micro-batch size, auto or configured",
            ["role", "backend", "batch_size", "selected"], registry=r,
        )
        self.backend_posts_per_s = Gauge(
            "brandpulse_scoring_backend_timed_posts_per_s", "Posts/s the auto selection timed for the chosen backend, per role",
            ["role"], registry=r,
        )
        self.backend_x_fp32 = Gauge(
            "brandpulse_scoring_backend_speedup", "Chosen backend's timed posts/s over torch fp32's, per role", ["role"], registry=r,
        )
        self.ready = Gauge("brandpulse_ready", "1 once the process has loaded its model(s) and storage", registry=r)
        self._models: dict[str, str] = {}
        self._backends: dict[str, tuple[str, str, str]] = {}

    def record_batch(self, result: BatchLike, seconds: float) -> None:
        self.batch_size.observe(len(result.scored) + len(result.dead))
        self.batch_seconds.observe(seconds)
        self.posts_scored.labels("champion").inc(len(result.scored))
        if result.shadow:
            self.posts_scored.labels("shadow").inc(len(result.shadow))
        for dl in result.dead:
            self.dead_letters.labels(dl.error_kind).inc()

    def record_alert(self, alert: Alert) -> None:
        self.alerts.labels(alert.kind).inc()

    def record_scoring(self, source: str, n_texts: int, seconds: float) -> None:
        self.scoring_seconds.labels(source).observe(seconds)
        self.texts_scored.labels(source).inc(n_texts)

    def set_models(self, champion: str | None, challenger: str | None = None) -> None:
        """Publish which versions serve; the previous version's series is removed, not left at 1."""
        for role, version in (("champion", champion), ("challenger", challenger)):
            old = self._models.get(role)
            if old == version:
                continue
            if old is not None:
                self.model_info.remove(role, old)
            if version is None:
                self._models.pop(role, None)
            else:
                self.model_info.labels(role, version).set(1)
                self._models[role] = version

    def set_backends(self, backends: Mapping[str, Mapping[str, Any] | None]) -> None:
        """Publish each role's backend (``LoadedModel.describe()``); a role's old series is removed on change."""
        for role in ("champion", "challenger"):
            info = backends.get(role)
            labels = (str(info["backend"]), str(info["batch_size"]), str(info["selected"])) if info else None
            old = self._backends.get(role)
            if old is not None and old != labels:
                self.backend_info.remove(role, *old)
            if labels is None:
                self._backends.pop(role, None)
            else:
                self.backend_info.labels(role, *labels).set(1)
                self._backends[role] = labels
            if info and "posts_per_s" in info:
                self.backend_posts_per_s.labels(role).set(info["posts_per_s"])
                self.backend_x_fp32.labels(role).set(info["x_torch_fp32"])
            else:
                for gauge in (self.backend_posts_per_s, self.backend_x_fp32):
                    with suppress(KeyError):
                        gauge.remove(role)

    def render(self) -> tuple[bytes, str]:
        """The exposition body and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


METRICS = Metrics()


def record_batch(result: BatchLike, seconds: float) -> None:
    METRICS.record_batch(result, seconds)


def record_alert(alert: Alert) -> None:
    METRICS.record_alert(alert)


def record_alerts(alerts: Sequence[Alert]) -> None:
    for alert in alerts:
        METRICS.record_alert(alert)
