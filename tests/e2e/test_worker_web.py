"""A real worker's web server: /metrics names the served model and its timed backend, /dashboard draws the
stored posts (in real headless Chromium where installed), and bad parameters get a clear 400 there and in the CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.browser import CHROMIUM, SCREENSHOT_DIR, chromium
from tests.support.stack import Stack, Worker


@pytest.mark.timeout(600)  # the worker times every backend before it is ready
def test_worker_web_serves_metrics_and_dashboard(stack: Stack, tmp_path: Path) -> None:
    """A real worker: its /metrics names the served model and its timed backend, its /dashboard draws the stored posts."""
    # What is tested is that auto times the backends and says which it chose, not the choice itself: 300
    # parity texts and a 40 s bound keep it short. Cold caches export the ONNX and OpenVINO graphs first,
    # and another test may share the cores (xdist).
    worker = stack.worker(BRANDPULSE_BACKEND="auto", BRANDPULSE_BACKEND_TEXTS="300",
                          BRANDPULSE_BACKEND_BUDGET_S="40").start(timeout_s=480)
    posts = [
        json.dumps({"post_id": f"m{i}", "text": "@united " + ("lost my bag, awful" if i % 2 else "great crew, thanks"),
                    "created_at": f"2015-02-24T11:{i % 60:02d}:00Z"}).encode()
        for i in range(60)
    ]
    stack.produce(posts)
    worker.wait_for(lambda w: sum(w.get("/brands").values()) >= 60, what="60 stored posts")
    resp = httpx.get(worker.base_url + "/metrics", timeout=30)
    text = resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    version = worker.get("/stats")["champion"]
    assert re.search(rf'brandpulse_model_info\{{role="champion",version="{re.escape(version)}"\}} 1\.0', text)
    assert "brandpulse_ready 1.0" in text
    backend = worker.get("/stats")["scoring_backend"]["champion"]
    assert backend["selected"] == "auto" and backend["posts_per_s"] > 0 and backend["x_torch_fp32"] > 0
    assert any(t["backend"] == backend["backend"] and t["parity"] for t in backend["trials"])
    assert re.search(rf'brandpulse_scoring_backend_info\{{backend="{backend["backend"]}",batch_size="{backend["batch_size"]}",'
                     r'role="champion",selected="auto"\} 1\.0', text)
    page = httpx.get(worker.base_url + "/dashboard?brand=United&since=1h&until=latest&refresh=0", timeout=60).raise_for_status().text
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


def _status(worker: Worker, path: str) -> tuple[int, str]:
    resp = httpx.get(worker.base_url + path, timeout=30)
    return resp.status_code, resp.text


def _hostile_parameters_get_clear_errors(worker: Worker) -> None:
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
