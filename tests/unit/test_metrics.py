"""Prometheus metrics: what a batch, an alert, a model swap and a backend choice record, each process on its own registry."""

from __future__ import annotations

import datetime as dt

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.core.metrics import Metrics
from streams.worker.pipeline import BatchResult
from streams.core.schemas import Alert, DeadLetter, ScoredPost

UTC = dt.timezone.utc


def values(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode()) for s in family.samples
    }


def scored(i: int, role: str = "champion") -> ScoredPost:
    now = dt.datetime(2015, 2, 24, 11, tzinfo=UTC)
    return ScoredPost(post_id=str(i), brand="United", platform="twitter", text="t", created_at=now, ingested_at=now,
                      label="negative", probs={"negative": 0.9, "neutral": 0.05, "positive": 0.05}, confidence=0.9,
                      model_version="m/1", model_role=role)  # type: ignore[arg-type]


def dead(kind: str) -> DeadLetter:
    return DeadLetter(reason="r", error_kind=kind, source_topic="posts", value_b64="")


def test_a_batch_records_counts_sizes_latency_and_dead_letters() -> None:
    m = Metrics()
    m.record_batch(BatchResult(scored=[scored(i) for i in range(10)], shadow=[scored(i, "shadow") for i in range(10)],
                               dead=[dead("malformed_json"), dead("malformed_json"), dead("too_large")]), 0.42)
    m.record_batch(BatchResult(scored=[scored(99)]), 0.01)
    v = values(m)
    assert v[("brandpulse_posts_scored_total", (("role", "champion"),))] == 11
    assert v[("brandpulse_posts_scored_total", (("role", "shadow"),))] == 10
    assert v[("brandpulse_dead_letters_total", (("kind", "malformed_json"),))] == 2
    assert v[("brandpulse_dead_letters_total", (("kind", "too_large"),))] == 1
    assert v[("brandpulse_batch_size_count", ())] == 2 and v[("brandpulse_batch_size_sum", ())] == 14
    assert v[("brandpulse_batch_size_bucket", (("le", "8.0"),))] == 1  # the 1-post batch
    assert v[("brandpulse_batch_seconds_sum", ())] == pytest.approx(0.43)
    assert v[("brandpulse_batch_seconds_bucket", (("le", "0.25"),))] == 1


def test_alerts_and_model_versions() -> None:
    m = Metrics()
    for kind in ("label_drift", "label_drift", "confidence_drift"):
        m.record_alert(Alert(alert_id="a", kind=kind, detector="d", statistic=1, threshold=0.5, model_version="m/1"))  # type: ignore[arg-type]
    m.set_models("m/1", "m/2")
    m.set_models("m/2")  # promotion: the challenger became champion, nothing shadows
    v = values(m)
    assert v[("brandpulse_drift_alerts_total", (("kind", "label_drift"),))] == 2
    assert v[("brandpulse_drift_alerts_total", (("kind", "confidence_drift"),))] == 1
    info = {labels: val for (name, labels), val in v.items() if name == "brandpulse_model_info"}
    assert info == {(("role", "champion"), ("version", "m/2")): 1.0}


def test_backend_series_follow_the_served_backends() -> None:
    m = Metrics()
    auto = {"backend": "openvino", "batch_size": 16, "selected": "auto", "posts_per_s": 900.0, "x_torch_fp32": 3.6}
    m.set_backends({"champion": auto, "challenger": {"backend": "torch", "batch_size": 16, "selected": "configured"}})
    m.set_backends({"champion": auto | {"backend": "onnx-int8"}, "challenger": None})  # swap, then unload
    v = values(m)
    info = {labels: val for (name, labels), val in v.items() if name == "brandpulse_scoring_backend_info"}
    assert info == {(("backend", "onnx-int8"), ("batch_size", "16"), ("role", "champion"), ("selected", "auto")): 1.0}
    assert v[("brandpulse_scoring_backend_speedup", (("role", "champion"),))] == 3.6
    assert ("brandpulse_scoring_backend_timed_posts_per_s", (("role", "challenger"),)) not in v


def test_each_process_gets_its_own_registry() -> None:
    a, b = Metrics(), Metrics()  # would raise "Duplicated timeseries" on a shared registry
    a.record_scoring("api", 5, 0.1)
    assert values(a)[("brandpulse_texts_scored_total", (("source", "api"),))] == 5
    assert ("brandpulse_texts_scored_total", (("source", "api"),)) not in values(b)
