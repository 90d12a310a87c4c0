"""Erasure beyond the tables, on the real broker: the erasure list the labeller and trainer skip."""

from __future__ import annotations

import json
import threading
from typing import Any

from streams.core.schemas import HumanLabel, LabelRequest
from streams.kafka.erasures import publish_erased
from tests.support.waiting import wait_for


def produce(settings, key: str, records: list[Any]) -> None:  # type: ignore[no-untyped-def]
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    for r in records:
        producer.send(settings.topic(key), key=r.post_id.encode(), value=r.model_dump_json().encode())
    producer.flush()
    producer.close()


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
        wait_for(lambda: len(trainer.labels) == 2, 120, f"two labels (trainer alive: {thread.is_alive()})")
        publish_erased(kafka_settings, ["erased"])
        wait_for(lambda: len(trainer.labels) == 1, 60, "the erased post's label dropped")
        produce(kafka_settings, "labels", [label("erased"), label("later")])  # one was on screen during the erasure
        wait_for(lambda: len(trainer.labels) == 2, 60, "the later label")
    finally:
        stop.set()
        thread.join(30)
    on_file = {json.loads(line)["post_id"] for line in trainer.labels.path.read_text().splitlines()}
    assert ({lb.post_id for lb in trainer.labels.snapshot()}, on_file) == ({"keep", "later"}, {"keep", "later"})
