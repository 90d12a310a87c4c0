"""Prometheus metrics: what a batch, an alert and a model swap record, and the worker's own /metrics page."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.core.metrics import Metrics
from streams.worker.pipeline import BatchResult
from streams.core.schemas import Alert, DeadLetter, ScoredPost
from tests.integration.test_dashboard import CHROMIUM, SCREENSHOT_DIR, chromium

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


@pytest.mark.e2e
@pytest.mark.slow
def test_worker_web_serves_metrics_and_dashboard(stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A real worker: its /metrics names the served model and its timed backend, its /dashboard draws the stored posts."""
    worker = stack.worker(BRANDPULSE_BACKEND="auto").start(timeout_s=150)
    posts = [
        json.dumps({"post_id": f"m{i}", "text": "@united " + ("lost my bag, awful" if i % 2 else "great crew, thanks"),
                    "created_at": f"2015-02-24T11:{i % 60:02d}:00Z"}).encode()
        for i in range(60)
    ]
    stack.produce(posts)
    worker.wait_for(lambda w: sum(w.get("/brands").values()) >= 60, what="60 stored posts")
    with urllib.request.urlopen(worker.base_url + "/metrics", timeout=30) as resp:
        text = resp.read().decode()
        assert resp.headers["content-type"].startswith("text/plain")
    version = worker.get("/stats")["champion"]
    assert re.search(rf'brandpulse_model_info\{{role="champion",version="{re.escape(version)}"\}} 1\.0', text)
    assert "brandpulse_ready 1.0" in text
    backend = worker.get("/stats")["scoring_backend"]["champion"]
    assert backend["selected"] == "auto" and backend["posts_per_s"] > 0 and backend["x_torch_fp32"] > 0
    assert any(t["backend"] == backend["backend"] and t["parity"] for t in backend["trials"])
    assert re.search(rf'brandpulse_scoring_backend_info\{{backend="{backend["backend"]}",batch_size="{backend["batch_size"]}",'
                     r'role="champion",selected="auto"\} 1\.0', text)
    with urllib.request.urlopen(worker.base_url + "/dashboard?brand=United&since=1h&until=latest&refresh=0", timeout=60) as resp:
        page = resp.read().decode()
    assert page.count('class="bar bar-') >= 2 and 'class="share-line"' in page and version in page
    data = worker.get("/dashboard/data?since=1h&until=latest&bucket=1h")
    assert sum(b["posts"] for b in data["buckets"]) == 60 and data["models"][0]["version"] == version
    _hostile_parameters_get_clear_errors(worker)
    if CHROMIUM:
        url = worker.base_url + "/dashboard?brand=United&since=1h&refresh=0"
        dom = chromium(url, tmp_path / "profile-dom", "--dump-dom")
        assert dom.returncode == 0 and dom.stdout.count('<rect class="bar bar-') >= 2
        SCREENSHOT_DIR.mkdir(exist_ok=True)
        shot = chromium(url, tmp_path / "profile-png", f"--screenshot={SCREENSHOT_DIR / 'dashboard-worker.png'}")
        assert shot.returncode == 0, shot.stderr[-2000:]


def _status(worker, path: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    try:
        with urllib.request.urlopen(worker.base_url + path, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _hostile_parameters_get_clear_errors(worker) -> None:  # type: ignore[no-untyped-def]
    """Bad parameters are the caller's mistake: a 400 that says what to fix, never a 500 or a 503."""
    nines = "9" * 40
    for path, fragment in [
        (f"/trends?since={nines}d", "bad duration"),
        ("/trends?since=400d", "longer than 366 days"),
        ("/trends?since=7d&bucket=1m", "more than 5000 buckets"),
        ("/trends?bucket=90s", "whole number of minutes"),
        ("/trends?until=0001-01-01T00:00", "years 2000-2999"),
        ("/trends?brand=" + "x" * 300, "at most 128"),
        ("/trends?brand=Acme", "known brands: United"),
        (f"/dashboard/data?since={nines}d", "bad duration"),
        (f"/dashboard?since={nines}d", "bad duration"),
        ("/dashboard/data?brand=Acme&until=latest", "known brands: United"),
    ]:
        status, body = _status(worker, path)
        assert status == 400 and fragment in body, (path, status, body[:300])
    # Brands match whatever their case.
    assert worker.get("/trends?brand=united&since=1h&until=latest")["brand"] == "United"
    # The CLI checks before it asks, and turns the worker's answers into one clear line.
    env = {**worker.env, "COLUMNS": "400"}  # one line per message, whatever the terminal
    for args, fragment in [(["--brand", "x" * 100_000], "at most 128"), (["--brand", "acme"], "known brands: United"),
                           (["--since", nines + "d"], "bad duration")]:
        cli = subprocess.run([sys.executable, "-m", "streams.cli.main", "trends", *args], env=env, capture_output=True, text=True, timeout=120)
        assert cli.returncode == 2 and fragment in cli.stderr and "Traceback" not in cli.stderr, cli.stderr[-1500:]
