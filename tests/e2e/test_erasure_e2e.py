"""``brandpulse erase`` end to end, as a process: through a real store-only worker's web port (embedded chDB),
again, and with the worker stopped; the erased posts land on the erasure list."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from streams.core.schemas import ScoredPost
from streams.kafka.erasures import ErasureList
from streams.store.protocol import sha256_hex
from tests.support.data import REPO
from tests.support.net import free_port
from tests.support.stack import Stack

# Whichever test comes first sets up the module's worker and its three erase runs.
pytestmark = pytest.mark.timeout(600)
T0 = dt.datetime(2015, 2, 24, 11, 0, tzinfo=dt.timezone.utc)


def scored(post_id: str, author: str) -> ScoredPost:
    return ScoredPost(post_id=post_id, brand="United", platform="twitter", author=author, text=f"secret words of {post_id}",
                      created_at=T0, ingested_at=dt.datetime.now(dt.timezone.utc), label="negative",
                      probs={"negative": 0.8, "neutral": 0.1, "positive": 0.1}, confidence=0.8, model_version="m/1")


@pytest.fixture(scope="module")
def erase_run(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> dict[str, Any]:
    """A store-only worker (no model to load) holding two authors' posts, erased three times with the
    CLI: twice through the worker's web port, once with the worker stopped (the CLI opens chDB itself)."""
    from streams.kafka.topics import create_topics

    tmp: Path = tmp_path_factory.mktemp("erase-e2e")
    tag = uuid.uuid4().hex[:8]
    env = {
        **os.environ, "BRANDPULSE_TEST_KAFKA": kafka_bootstrap, "BRANDPULSE_DATA_DIR": str(tmp / "state"),
        "BRANDPULSE_KAFKA_URL": f"kafka://{kafka_bootstrap}", "BRANDPULSE_TOPIC_PREFIX": f"t{tag}",
        "BRANDPULSE_APP_ID": f"bp-erase-{tag}", "BRANDPULSE_WEB_PORT": str(free_port()), "BRANDPULSE_ROLES": "store",
        "BRANDPULSE_BATCH_WITHIN_S": "0.3",
    }
    stack = Stack(env, tmp)
    create_topics(stack.settings)
    worker = stack.worker().start()

    def erase() -> dict[str, Any]:
        done = subprocess.run([sys.executable, "-m", "streams.cli.main", "erase", "--author", "@JDoe", "--operator", "dpo", "--json"],
                              env=env, cwd=REPO, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    try:
        stack.produce([scored(f"jd-{i}", "jdoe").model_dump_json().encode() for i in range(5)]
                      + [scored(f"ot-{i}", "other").model_dump_json().encode() for i in range(3)], topic="scored")
        worker.wait_for(lambda w: w.get("/brands").get("United") == 8, timeout_s=60, what="8 stored posts")
        run: dict[str, Any] = {"first": erase(), "second": erase()}
        run["text_plain"] = httpx.post(worker.base_url + "/erase", headers={"content-type": "text/plain"},
                                       content=json.dumps({"kind": "post", "identifier": "ot-1", "operator": "a page"})).status_code
    finally:
        worker.stop()
    run["without_worker"] = erase()
    store = stack.store()
    try:
        run["left"] = [r["post_id"] for r in store.query(f"SELECT post_id FROM {store.db}.scored_posts ORDER BY post_id")]
        run["audited"] = [r["erasure_id"] for r in store.query(f"SELECT erasure_id FROM {store.db}.erasures ORDER BY requested_at")]
    finally:
        store.close()
    erasure_list = ErasureList(stack.settings)
    run["erasure_list"] = erasure_list.hashes
    erasure_list.close()
    return run


def test_erase_through_the_worker_removes_the_authors_posts(erase_run: dict[str, Any]) -> None:
    assert erase_run["left"] == ["ot-0", "ot-1", "ot-2"]


def test_erase_through_the_worker_reports_rows_per_table(erase_run: dict[str, Any]) -> None:
    assert (erase_run["first"]["rows"]["scored_posts"], erase_run["first"]["erasure_list"]) == (5, 5)


def test_erase_again_through_the_worker_reports_zero(erase_run: dict[str, Any]) -> None:
    second = erase_run["second"]
    assert (sum(second["rows"].values()), second["erasure_list"]) == (0, 0)


def test_erase_without_a_worker_opens_the_store_itself(erase_run: dict[str, Any]) -> None:
    assert erase_run["audited"] == [erase_run[run]["erasure_id"] for run in ("first", "second", "without_worker")]


def test_erase_puts_the_posts_on_the_erasure_list(erase_run: dict[str, Any]) -> None:
    assert erase_run["erasure_list"] == {sha256_hex(f"jd-{i}") for i in range(5)}


def test_the_worker_refuses_an_erasure_a_web_page_could_send(erase_run: dict[str, Any]) -> None:
    assert erase_run["text_plain"] == 415
