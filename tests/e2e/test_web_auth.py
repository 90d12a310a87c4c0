"""Authentication on the web parts with real servers (API, dashboard, worker) and their clients.

The servers are real processes started by the real CLI and bound to 0.0.0.0 with a token; traffic goes
to 127.0.0.1 only. A server asked to bind beyond loopback without a token must refuse to start.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from streams.cli.main import create_cli
from tests.support.data import REPO
from tests.support.net import free_port
from tests.support.stack import Stack, Worker
from tests.support.web_auth import NO_TOKEN, TOKEN, WRONG, basic

BEARER = {"Authorization": f"Bearer {TOKEN}"}
POSTS = ["@united lost my bag again, nobody helps", "@united great crew today, thank you!",
         "@united flight 1234 leaves at 5pm", "@united two hours on the tarmac, no information"]


# ------------------------------------------------------------------ refusing to start

def test_worker_refuses_to_bind_beyond_loopback_without_a_token(tmp_path: Path) -> None:
    env = {**os.environ, **NO_TOKEN, "BRANDPULSE_WEB_HOST": "0.0.0.0", "BRANDPULSE_WEB_PORT": str(free_port()),
           "BRANDPULSE_DATA_DIR": str(tmp_path / "state"), "BRANDPULSE_SECRETS_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "streams.cli.main", "worker"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "refusing to start the worker's web server on 0.0.0.0" in proc.stderr, proc.stderr[-3000:]


# ------------------------------------------------------------------ real servers with a token

def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 120.0) -> None:
    """Until ``url`` answers 200 (an open health path), failing with the log if the process dies."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}"
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not up after {timeout_s}s:\n{log.read_text(errors='replace')[-3000:]}")


def start_cli(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "streams.cli.main", *args], env=env, cwd=REPO,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(10)


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str, trained_model: Path) -> Iterator[Worker]:
    """One real worker on 0.0.0.0 with a token, shared by the tests below (they only read)."""
    import uuid

    from streams.kafka.topics import create_topics

    tmp = tmp_path_factory.mktemp("web-auth")
    tag = uuid.uuid4().hex[:8]
    env = {
        **os.environ, "BRANDPULSE_TEST_KAFKA": kafka_bootstrap, "BRANDPULSE_DATA_DIR": str(tmp / "state"),
        "BRANDPULSE_KAFKA_URL": f"kafka://{kafka_bootstrap}", "BRANDPULSE_TOPIC_PREFIX": f"t{tag}",
        "BRANDPULSE_APP_ID": f"bp-test-{tag}", "BRANDPULSE_WEB_PORT": str(free_port()),
        "BRANDPULSE_MODEL_REF": str(trained_model), "BRANDPULSE_CHALLENGER_REF": "", "BRANDPULSE_MAX_LENGTH": "64",
        "BRANDPULSE_BACKEND": "torch", "BRANDPULSE_WEB_HOST": "0.0.0.0", "BRANDPULSE_WEB_TOKEN": TOKEN,
    }
    stack = Stack(env, tmp)
    create_topics(stack.settings)
    w = stack.worker()
    try:
        w.start()  # polls the open /healthz; get() below sends the token
        # A few stored posts, so every view has data to answer with (a brand without posts is a 400).
        now = dt.datetime.now(dt.timezone.utc)
        stack.produce([json.dumps({"post_id": f"wa{i}", "text": text, "created_at": (now - dt.timedelta(minutes=i)).isoformat()}).encode()
                       for i, text in enumerate(POSTS * 4)])
        w.wait_for(lambda w: w.get("/brands").get("United", 0) >= len(POSTS) * 4, what="the posts stored")
        yield w
    finally:
        w.stop()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, trained_model: Path) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("web-auth-api")
    port = free_port()
    env = {**os.environ, "BRANDPULSE_DATA_DIR": str(tmp), "BRANDPULSE_WEB_TOKEN": TOKEN, "BRANDPULSE_BACKEND": "torch",
           "BRANDPULSE_MAX_LENGTH": "64"}
    proc = start_cli(["api", "--host", "0.0.0.0", "--port", str(port), "--model", str(trained_model)], env, tmp / "api.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", proc, tmp / "api.log")  # open: the model is loaded
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def dashboard_process(worker: Worker, tmp: Path, token: str) -> tuple[str, subprocess.Popen[bytes]]:
    """The standalone dashboard on 0.0.0.0, reading embedded chDB through the worker's web port."""
    port = free_port()
    env = {**worker.env, "BRANDPULSE_WEB_HOST": "127.0.0.1", "BRANDPULSE_WEB_TOKEN": token}
    proc = start_cli(["dashboard", "--host", "0.0.0.0", "--port", str(port)], env, tmp / f"dashboard-{port}.log")
    wait_http(f"http://127.0.0.1:{port}/healthz", proc, tmp / f"dashboard-{port}.log")
    return f"http://127.0.0.1:{port}", proc


@pytest.fixture(scope="module")
def dashboard(worker: Worker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, proc = dashboard_process(worker, tmp_path_factory.mktemp("web-auth-dash"), TOKEN)
    try:
        yield url
    finally:
        stop(proc)


def call(base: str, request: tuple[str, str], headers: dict[str, str]) -> httpx.Response:
    method, path = request
    body = {"texts": ["@united lost my bag again"]} if method == "POST" else None
    return httpx.request(method, base + path, json=body, headers=headers, timeout=60)


API_CALLS = [("POST", "/v1/sentiment"), ("GET", "/metrics"), ("GET", "/docs"), ("GET", "/openapi.json")]
DASHBOARD_CALLS = [("GET", "/dashboard?refresh=0"), ("GET", "/dashboard/data"), ("GET", "/")]
WORKER_CALLS = [("GET", p) for p in ("/stats", "/cpu", "/trends", "/brands", "/why?brand=United", "/share?group=US airlines", "/voices?brand=United",
                                     "/dashboard?refresh=0", "/dashboard/data", "/metrics")]
REFUSED = {"missing": {}, "wrong": {"Authorization": f"Bearer {WRONG}"}, "wrong-basic": {"Authorization": basic("brandpulse", WRONG)}}


def refused(resp: httpx.Response) -> bool:
    """401, the same body whatever was wrong, and both challenges."""
    challenges = resp.headers.get_list("www-authenticate")
    return (resp.status_code == 401 and resp.json() == {"error": "unauthorized"}
            and any(c.startswith("Bearer") for c in challenges) and any(c.startswith("Basic") for c in challenges))


@pytest.mark.parametrize("kind", REFUSED)
@pytest.mark.parametrize("request_", API_CALLS, ids=lambda r: r[1])
def test_api_refuses_without_the_token(api: str, request_: tuple[str, str], kind: str) -> None:
    assert refused(call(api, request_, REFUSED[kind]))


@pytest.mark.parametrize("request_", API_CALLS, ids=lambda r: r[1])
def test_api_serves_with_the_token(api: str, request_: tuple[str, str]) -> None:
    resp = call(api, request_, BEARER)
    assert resp.status_code == 200, resp.text


def test_api_accepts_basic_auth(api: str) -> None:
    assert call(api, ("GET", "/metrics"), {"Authorization": basic("prometheus", TOKEN)}).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_api_health_probes_stay_open(api: str, path: str) -> None:
    assert httpx.get(api + path, timeout=30).status_code == 200


@pytest.mark.parametrize("kind", REFUSED)
@pytest.mark.parametrize("request_", DASHBOARD_CALLS, ids=lambda r: r[1])
def test_dashboard_refuses_without_the_token(dashboard: str, request_: tuple[str, str], kind: str) -> None:
    assert refused(call(dashboard, request_, REFUSED[kind]))


@pytest.mark.parametrize("request_", DASHBOARD_CALLS[:2], ids=lambda r: r[1])
def test_dashboard_serves_the_workers_data_with_the_token(dashboard: str, request_: tuple[str, str]) -> None:
    # 200 means the dashboard's worker client sent the token too: the data comes from the worker's views.
    resp = call(dashboard, request_, BEARER)
    assert resp.status_code == 200, resp.text


def test_dashboard_in_a_browser_with_basic_auth(dashboard: str) -> None:
    resp = call(dashboard, ("GET", "/dashboard?refresh=0"), {"Authorization": basic("me", TOKEN)})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")


def test_dashboard_health_stays_open(dashboard: str) -> None:
    assert httpx.get(dashboard + "/healthz", timeout=30).status_code == 200


def test_a_dashboard_with_another_token_is_refused_by_the_worker(worker: Worker, tmp_path: Path) -> None:
    url, proc = dashboard_process(worker, tmp_path, WRONG)
    try:
        resp = httpx.get(url + "/dashboard/data", headers={"Authorization": f"Bearer {WRONG}"}, timeout=60)
    finally:
        stop(proc)
    assert resp.status_code == 503 and "answered 401" in resp.text, resp.text


@pytest.mark.parametrize("kind", REFUSED)
@pytest.mark.parametrize("request_", [*WORKER_CALLS, ("GET", "/"), ("GET", "/no-such-page")], ids=lambda r: r[1])
def test_worker_refuses_without_the_token(worker: Worker, request_: tuple[str, str], kind: str) -> None:
    assert refused(call(worker.base_url, request_, REFUSED[kind]))


@pytest.mark.parametrize("request_", WORKER_CALLS, ids=lambda r: r[1])
def test_worker_serves_with_the_token(worker: Worker, request_: tuple[str, str]) -> None:
    resp = call(worker.base_url, request_, BEARER)
    assert resp.status_code == 200, resp.text


def test_worker_health_stays_open(worker: Worker) -> None:
    resp = httpx.get(worker.base_url + "/healthz", timeout=30)
    assert resp.status_code == 200 and resp.json() == {"ok": True, "ready": True}


def cli_trends(worker: Worker, token: str) -> tuple[int, str]:
    env = {k: v for k, v in worker.env.items() if k.startswith("BRANDPULSE_")} | {
        "BRANDPULSE_WEB_HOST": "127.0.0.1", "BRANDPULSE_WEB_TOKEN": token}
    result = CliRunner().invoke(create_cli(), ["trends", "--since", "1h", "--json"], env=env)
    return result.exit_code, result.output


def test_cli_queries_send_the_token(worker: Worker) -> None:
    code, output = cli_trends(worker, TOKEN)
    assert code == 0 and sum(b["posts"] for b in json.loads(output)["buckets"]) == len(POSTS) * 4, output


def test_cli_queries_say_when_the_worker_wants_another_token(worker: Worker) -> None:
    code, output = cli_trends(worker, WRONG)
    assert code == 2 and "answered 401" in output and "BRANDPULSE_WEB_TOKEN" in output, output
