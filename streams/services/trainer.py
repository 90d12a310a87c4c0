"""``brandpulse trainer``: the Kafka loop around the retraining job (:func:`drift.retraining.job.run_retrain`).

A long-running process with its own state (never the worker's ClickHouse): it follows the labels
topic into a JSONL label store under ``<data_dir>/trainer`` (last label per post wins) and the
retrain-requests topic. Training runs in a thread, so the loop keeps consuming labels and coalescing
requests: at most one retrain per model version is pending or in flight; later requests for that
version are absorbed. Pending requests are kept in the trainer's state file, so a restart resumes
them. Each outcome (a challenger, or why there is none) is announced on model-events and alerts.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from drift.records import HumanLabel, RetrainRequest
from drift.retraining.config import TrainerConfig
from drift.retraining.job import RetrainOutcome, RetryBackoff, run_retrain
from models.data import LabelledData
from models.files import atomic_write_text
from streams.kafka.announcer import announce
from streams.core.configs import retrain_places
from streams.core.settings import Settings
from streams.store.protocol import sha256_hex

log = logging.getLogger(__name__)

DONE_REMEMBERED = 1000  # request ids kept to recognise a replayed request

class LabelStore:
    """Human labels consumed from the labels topic: an append-only JSONL, last label per post wins."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._labels: dict[str, HumanLabel] = {}
        if path.exists():
            with path.open(encoding="utf-8") as fh:
                for n, line in enumerate(fh, start=1):
                    try:
                        self._put(HumanLabel.model_validate_json(line))
                    except ValidationError:
                        log.warning("%s line %d is not a label (a crash mid-write?); ignored", path, n)

    def _put(self, label: HumanLabel) -> None:
        self._labels.pop(label.post_id, None)  # re-insert so iteration order is arrival order
        self._labels[label.post_id] = label

    def add(self, labels: Sequence[HumanLabel]) -> None:
        if not labels:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            for label in labels:
                fh.write(label.model_dump_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        for label in labels:
            self._put(label)

    def forget(self, erased: Collection[str]) -> int:
        """Drop the labels of erased posts (``erased``: SHA-256 of their ids), from memory and from the
        file, which is rewritten without them; returns how many were dropped."""
        gone = [post_id for post_id in self._labels if sha256_hex(post_id) in erased]
        if not gone:
            return 0
        for post_id in gone:
            del self._labels[post_id]
        atomic_write_text(self.path, "".join(label.model_dump_json() + "\n" for label in self._labels.values()))
        return len(gone)

    def snapshot(self) -> list[HumanLabel]:
        return list(self._labels.values())

    def __len__(self) -> int:
        return len(self._labels)


class TrainerState(BaseModel):
    pending: list[RetrainRequest] = Field(default_factory=list)  # pending[0] is the one in flight
    done: list[str] = Field(default_factory=list)
    coalesced: dict[str, int] = Field(default_factory=dict)  # per model version, while its retrain is pending
    backoff: RetryBackoff = Field(default_factory=RetryBackoff)  # versions whose last retrain failed or skipped

    @classmethod
    def load(cls, path: Path) -> TrainerState:
        return cls.model_validate_json(path.read_text()) if path.exists() else cls()

    def save(self, path: Path) -> None:
        atomic_write_text(path, self.model_dump_json(indent=1))

    def offer(self, request: RetrainRequest) -> bool:
        """Queue a request unless it is a replay or its model version already has one pending."""
        if request.request_id in self.done or any(r.request_id == request.request_id for r in self.pending):
            return False
        if any(r.model_version == request.model_version for r in self.pending):
            self.coalesced[request.model_version] = self.coalesced.get(request.model_version, 0) + 1
            return False
        self.pending.append(request)
        return True

    def finish(self, request: RetrainRequest) -> None:
        self.pending = [r for r in self.pending if r.request_id != request.request_id]
        self.coalesced.pop(request.model_version, None)
        self.done = (self.done + [request.request_id])[-DONE_REMEMBERED:]


# ------------------------------------------------------------------ the Kafka loop


class TrainerWorker:
    def __init__(
        self, settings: Settings, config: TrainerConfig | None = None, *, progress: bool = False,
        base: LabelledData | None = None,
    ) -> None:
        self.settings = settings
        self.config = config or TrainerConfig()
        self.progress = progress
        self.base = base
        root = settings.state_dir / "trainer"
        self.labels = LabelStore(root / "labels.jsonl")
        self.state_path = root / "state.json"
        self.state = TrainerState.load(self.state_path)
        self.outcomes: list[RetrainOutcome] = []
        self._thread: threading.Thread | None = None
        self._result: RetrainOutcome | None = None
        self._waiting_for: str | None = None
        self.erased: set[str] = set()  # SHA-256 of erased post ids (streams.kafka.erasures), filled by run()

    def _consumer(self) -> Any:
        from streams.kafka.topics import group_consumer

        return group_consumer(self.settings, "labels", "retrain-requests", group="trainer", client_id="brandpulse-trainer")

    def handle(self, topic: str, value: bytes) -> None:
        """Apply one consumed record (label or retrain request) to the trainer's state."""
        try:
            if topic == self.settings.topic("labels"):
                label = HumanLabel.model_validate_json(value)
                if sha256_hex(label.post_id) not in self.erased:  # a label made while its post was being erased
                    self.labels.add([label])
            elif self.state.offer(request := RetrainRequest.model_validate_json(value)):
                log.info("retrain request %s for %s queued: %s", request.request_id, request.model_version, request.reason)
            else:
                log.info("retrain request %s for %s coalesced or already done", request.request_id, request.model_version)
        except ValidationError as exc:
            log.error("ignoring malformed record on %s: %s", topic, exc)

    def _train(self, request: RetrainRequest, labels: list[HumanLabel]) -> None:
        try:
            outcome = run_retrain(
                request, labels, retrain_places(self.settings), config=self.config, base=self.base,
                progress=self.progress,
            )
        except Exception as exc:  # noqa: BLE001 - run_retrain reports its own failures; this is the last guard
            log.exception("retrain %s crashed", request.request_id)
            outcome = RetrainOutcome(
                request_id=request.request_id, requested_for=request.model_version, status="failed",
                message=f"retrain for {request.model_version} crashed: {type(exc).__name__}: {exc}",
            )
        log.info("retrain %s %s in %.0fs: %s", request.request_id, outcome.status, outcome.seconds, outcome.message)
        try:
            announce(self.settings, events=[outcome.event()], alerts=[outcome.alert()])
        except Exception:  # noqa: BLE001 - the registry already holds the challenger; workers find it on restart
            log.exception("could not announce the outcome of retrain %s", request.request_id)
        self._result = outcome

    def _step_training(self) -> None:
        if self._thread is not None and not self._thread.is_alive():
            self._thread = None
            outcome = self._result
            assert outcome is not None
            self.outcomes.append(outcome)
            self.state.finish(self.state.pending[0])
            self.state.backoff.record(outcome)
            self.state.save(self.state_path)
        if self._thread is None and self.state.pending:
            request, waits = self.state.backoff.first_ready(self.state.pending, len(self.labels), self.config)
            if request is None:  # a failed version's next request waits for new labels or its cool-down
                if self._waiting_for != (held := f"{self.state.pending[0].request_id} backoff"):
                    log.info("%s", waits[0])
                    self._waiting_for = held
                return
            self.state.pending.remove(request)
            self.state.pending.insert(0, request)  # pending[0] is the one in flight
            if len(self.labels) < self.config.min_labels:
                # Drift alerts come early, labels later: keep the request until there is enough to learn from.
                if self._waiting_for != request.request_id:
                    log.info("retrain for %s waits for human labels (%d of %d)", request.model_version,
                             len(self.labels), self.config.min_labels)
                    self._waiting_for = request.request_id
                return
            log.info("retraining for %s (request %s) with %d human labels", request.model_version, request.request_id, len(self.labels))
            self._thread = threading.Thread(
                target=self._train, args=(request, self.labels.snapshot()), name="brandpulse-retrain", daemon=True
            )
            self._thread.start()

    def forget_erased(self, hashes: Collection[str]) -> None:
        """Take these erased posts (SHA-256 of their ids) out of the label store, and skip their labels from now on."""
        self.erased |= set(hashes)
        if dropped := self.labels.forget(self.erased):
            log.info("dropped %d labels of erased posts", dropped)

    def run(self, stop: threading.Event) -> None:
        """Consume and train until ``stop`` is set; a retrain in flight is resumed on the next start."""
        from streams.kafka.erasures import ErasureList

        erasures = ErasureList(self.settings)
        self.forget_erased(erasures.hashes)
        consumer = self._consumer()
        try:
            while not stop.is_set():
                if new := erasures.refresh():
                    self.forget_erased(new)
                batches = consumer.poll(timeout_ms=500)
                for tp, messages in batches.items():
                    for msg in messages:
                        self.handle(tp.topic, msg.value)
                if batches:
                    self.state.save(self.state_path)
                    consumer.commit()  # after the label store and state file hold what was read
                self._step_training()
        finally:
            consumer.close()
            erasures.close()

    @property
    def busy(self) -> bool:
        return self._thread is not None
