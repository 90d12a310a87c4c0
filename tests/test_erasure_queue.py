"""Erasure beyond the tables, on the real broker: the erasure list the labeller and trainer skip, and
``brandpulse erase`` end to end through a real worker's web port (embedded chDB) and without one."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from streams.core.schemas import HumanLabel, LabelRequest, ScoredPost
from streams.kafka.erasures import ErasureList, publish_erased
from streams.store.protocol import sha256_hex
from tests.conftest import REPO, Stack, free_port


def produce(settings, key: str, records: list[Any]) -> None:  # type: ignore[no-untyped-def]
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    for r in records:
        producer.send(settings.topic(key), key=r.post_id.encode(), value=r.model_dump_json().encode())
    producer.flush()
    producer.close()


def wait_until(condition: Callable[[], Any], timeout_s: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


def request(post_id: str) -> LabelRequest:
    return LabelRequest(post_id=post_id, brand="United", text=f"text of {post_id}", predicted_label="negative",
                        confidence=0.5, model_version="m/1", reason="flyback")


def test_the_labeller_never_offers_an_erased_post(kafka_settings) -> None:  # type: ignore[no-untyped-def]
    from streams.services.labeller import LabelQueue

    produce(kafka_settings, "label-requests", [request(p) for p in ("keep-1", "erased", "keep-2")])
    publish_erased(kafka_settings, ["erased"])
    queue = LabelQueue(kafka_settings, idle_s=3)
    offered = []
    try:
        for req in queue:
            offered.append(req.post_id)
            queue.done(req)
    finally:
        queue.close()
    assert (sorted(offered), queue.skipped_erased) == (["keep-1", "keep-2"], 1)


def test_the_trainer_drops_an_erased_posts_labels_and_its_late_ones(kafka_settings) -> None:  # type: ignore[no-untyped-def]
    from streams.services.trainer import TrainerWorker

    trainer = TrainerWorker(kafka_settings)
    stop = threading.Event()
    thread = threading.Thread(target=trainer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        label = lambda p: HumanLabel(post_id=p, label="negative", annotator="alice", text=f"text of {p}")  # noqa: E731
        produce(kafka_settings, "labels", [label("keep"), label("erased")])
        wait_until(lambda: len(trainer.labels) == 2, timeout_s=120, what=f"two labels (trainer alive: {thread.is_alive()})")
        publish_erased(kafka_settings, ["erased"])
        wait_until(lambda: len(trainer.labels) == 1, what="the erased post's label dropped")
        produce(kafka_settings, "labels", [label("erased"), label("later")])  # one was on screen during the erasure
        wait_until(lambda: len(trainer.labels) == 2, what="the later label")
    finally:
        stop.set()
        thread.join(30)
    on_file = {json.loads(line)["post_id"] for line in trainer.labels.path.read_text().splitlines()}
    assert ({lb.post_id for lb in trainer.labels.snapshot()}, on_file) == ({"keep", "later"}, {"keep", "later"})


# ------------------------------------------------------------------ brandpulse erase, end to end

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
