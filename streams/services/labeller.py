"""``brandpulse label``: the terminal labeller and the CSV import, connected to Kafka.

The labeller reads the label-requests topic with one consumer group shared by all annotators, so
each queued post is offered to one person once: a post's offset is committed when it has been
labelled or skipped, and a post shown when the annotator quits stays queued for the next session.
Labels go to the labels topic keyed by ``post_id`` (the worker stores them, the trainer learns from
them), each acknowledged by the broker before its request is committed. The session itself and the
CSV reader are :mod:`drift.labels.human`'s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from drift.labels.human import (
    ImportResult,
    SessionSummary,
    label_session,
    read_labels_csv,
)
from drift.records import HumanLabel, LabelRequest
from streams.core.settings import Settings

log = logging.getLogger(__name__)


class LabelPublisher:
    """Sends human labels to the labels topic, keyed by post_id; each send waits for the broker's ack."""

    def __init__(self, settings: Settings) -> None:
        from kafka import KafkaProducer

        from streams.kafka.security import open_client

        self.topic = settings.topic("labels")
        self._producer = open_client(KafkaProducer, settings, acks="all", retries=5, client_id="brandpulse-labeller")

    def __call__(self, label: HumanLabel) -> None:
        self._producer.send(self.topic, key=label.post_id.encode(), value=label.model_dump_json().encode()).get(30)

    def close(self) -> None:
        self._producer.flush()
        self._producer.close()


class LabelQueue:
    """Queued label requests from the label-requests topic, read by the shared labellers' group.

    Iterating yields requests until ``idle_s`` passes with nothing new; :meth:`done` commits one.
    A request for a post on the erasure list (:mod:`streams.kafka.erasures`) is committed unseen.
    """

    def __init__(self, settings: Settings, idle_s: float = 10.0, join_timeout_s: float = 60.0) -> None:
        from streams.kafka.erasures import ErasureList
        from streams.kafka.group import group_consumer

        self.idle_s = idle_s
        self.join_timeout_s = join_timeout_s
        self.erased = ErasureList(settings)
        self.skipped_erased = 0
        self._consumer = group_consumer(
            settings, "label-requests", group="labellers", client_id="brandpulse-labeller",
            # A person may look at one post for minutes; past this the group moves on without them.
            max_poll_interval_ms=600_000,
        )
        self._positions: dict[str, tuple[Any, int]] = {}

    def __iter__(self) -> Iterator[LabelRequest]:
        started = time.monotonic()
        last_seen: float | None = None
        while True:
            batches = self._consumer.poll(timeout_ms=500, max_records=1)
            now = time.monotonic()
            if not batches:
                if self._consumer.assignment() and last_seen is None:
                    last_seen = now  # joined the group: the idle clock starts now
                if last_seen is not None and now - last_seen > self.idle_s:
                    return
                if last_seen is None and now - started > self.join_timeout_s:
                    raise TimeoutError(
                        f"no partitions of the label-requests topic assigned after {self.join_timeout_s:.0f}s; "
                        "is the broker up and were the topics created (`brandpulse topics`)?"
                    )
                continue
            for tp, messages in batches.items():
                for msg in messages:
                    last_seen = time.monotonic()
                    try:
                        req = LabelRequest.model_validate_json(msg.value)
                    except ValidationError as exc:
                        log.error("skipping malformed label request at %s:%d: %s", tp, msg.offset, exc)
                        self._commit(tp, msg.offset)
                        continue
                    self.erased.refresh()  # an erasure made while this session runs counts from the next post on
                    if req.post_id in self.erased:
                        log.info("skipping a queued post that was erased")  # its id is not logged: it was erased
                        self.skipped_erased += 1
                        self._commit(tp, msg.offset)
                        continue
                    self._positions[req.post_id] = (tp, msg.offset)
                    yield req

    def done(self, req: LabelRequest) -> None:
        tp, offset = self._positions.pop(req.post_id)
        self._commit(tp, offset)

    def _commit(self, tp: Any, offset: int) -> None:
        from kafka.errors import CommitFailedError
        from kafka.structs import OffsetAndMetadata

        try:
            self._consumer.commit({tp: OffsetAndMetadata(offset + 1, "", -1)})
        except CommitFailedError:
            # The group rebalanced while this post was on screen: its label is published, but the
            # post may be offered once more (the trainer keeps the last label per post_id).
            log.warning("could not mark post at %s:%d as done; it may be offered again", tp, offset)

    def close(self) -> None:
        self._consumer.close()
        self.erased.close()


def run_labeller(
    settings: Settings,
    *,
    annotator: str,
    stdin: TextIO,
    stdout: TextIO,
    limit: int | None = None,
    idle_s: float = 10.0,
) -> SessionSummary:
    """An interactive labelling session against the configured broker."""
    queue = LabelQueue(settings, idle_s=idle_s)
    publisher = LabelPublisher(settings)
    try:
        summary = label_session(
            queue, publisher, annotator=annotator, stdin=stdin, stdout=stdout, on_done=queue.done, limit=limit
        )
    finally:
        publisher.close()
        queue.close()
    if not summary.quit and (limit is None or summary.offered < limit):
        stdout.write(f"\nno more queued posts (waited {idle_s:.0f}s)\n")
    stdout.write(
        f"labelled {summary.labelled}, skipped {summary.skipped}"
        + (f" ({', '.join(f'{k} {v}' for k, v in sorted(summary.counts.items()))})" if summary.counts else "")
        + "\n"
    )
    return summary


def import_labels(path: Path, settings: Settings, annotator: str) -> ImportResult:
    """Read, validate and publish a labels CSV; only valid rows are published."""
    result = read_labels_csv(path, annotator)
    if result.labels:
        publisher = LabelPublisher(settings)
        try:
            for label in result.labels:
                publisher(label)
                result.published += 1
        finally:
            publisher.close()
    return result
