"""``brandpulse trainer``: the Kafka loop around the retraining job (:func:`drift.retraining.job.run_retrain`).

A long-running process with its own state (never the worker's ClickHouse): it follows the labels
topic into a JSONL label store under ``<data_dir>/trainer`` (last label per post wins) and the
retrain-requests topic. Training runs in a thread, so the loop keeps consuming labels and coalescing
requests: at most one retrain per model version is pending or in flight; later requests for that
version are absorbed. Pending requests are kept in the trainer's state file, so a restart resumes
them. Each outcome (a challenger, or why there is none) is announced on model-events and alerts.

Whatever kills it, and when, a request registers at most one model version: the job keys the
registration by the request and resumes one that registered before the crash
(:mod:`drift.retraining.job`); on start the trainer removes the scratch folders and ends the MLflow
runs a killed retrain left. A request leaves the pending list only once its outcome is announced,
so an outcome the broker did not take is announced again (its alert id is stable, so it is stored
once). Every label it cannot train on becomes a ``bad_label`` dead letter with the reason, once per
label. What it is doing (pending, running and in which phase, holds, last outcomes) is
:meth:`TrainerWorker.status`, served by :mod:`streams.services.trainer_status`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from drift.records import HumanLabel, RetrainRequest, utcnow
from drift.retraining.config import TrainerConfig
from drift.retraining.forgetting import GeneralCheck
from drift.retraining.job import (
    LABEL_NAMES, REQUEST_TAG, SCRATCH_PREFIX, RetrainOutcome, RetryBackoff, clear_scratch, redact, run_retrain,
)
from drift.retraining.training_sets import RejectedLabel, rejection
from models.data import LabelledData
from models.files import atomic_write_text
from models.progress import Progress
from streams.core.configs import registry_config, retrain_places
from streams.core.schemas import DeadLetter
from streams.core.settings import Settings
from streams.kafka.announcer import announce
from streams.store.protocol import sha256_hex
from streams.worker.dead_letters import dead_letter, record_offset

log = logging.getLogger(__name__)

DONE_REMEMBERED = 1000  # request ids kept to recognise a replayed request
OUTCOMES_REMEMBERED = 20  # outcomes kept for the status endpoint
ANNOUNCE_RETRY_S = 5.0  # wait between attempts to announce an outcome the broker did not take


class LabelStore:
    """Human labels consumed from the labels topic: an append-only JSONL, last label per post wins.

    Labels that cannot be trained on by themselves (no text, a label outside the classes) are kept
    too, and counted: a correction for the same post replaces them.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._labels: dict[str, HumanLabel] = {}
        self._problems: dict[str, RejectedLabel] = {}
        self.unreadable_lines = 0
        if path.exists():
            with path.open(encoding="utf-8") as fh:
                for n, line in enumerate(fh, start=1):
                    try:
                        self._put(HumanLabel.model_validate_json(line))
                    except ValidationError:
                        self.unreadable_lines += 1
                        log.warning("%s line %d is not a label (a crash mid-write?); ignored", path, n)

    def _put(self, label: HumanLabel) -> RejectedLabel | None:
        self._labels.pop(label.post_id, None)  # re-insert so iteration order is arrival order
        self._labels[label.post_id] = label
        problem = rejection(label, LABEL_NAMES)
        if problem is None:
            self._problems.pop(label.post_id, None)
        else:
            self._problems[label.post_id] = problem
        return problem

    def add(self, labels: Sequence[HumanLabel]) -> list[RejectedLabel]:
        """Keep ``labels``; returns the ones that cannot be trained on, with why."""
        if not labels:
            return []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            for label in labels:
                fh.write(label.model_dump_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return [p for label in labels if (p := self._put(label)) is not None]

    def forget(self, erased: Collection[str]) -> int:
        """Drop the labels of erased posts (``erased``: SHA-256 of their ids), from memory and from the
        file, which is rewritten without them; returns how many were dropped."""
        gone = [post_id for post_id in self._labels if sha256_hex(post_id) in erased]
        if not gone:
            return 0
        for post_id in gone:
            del self._labels[post_id]
            self._problems.pop(post_id, None)
        atomic_write_text(self.path, "".join(label.model_dump_json() + "\n" for label in self._labels.values()))
        return len(gone)

    def snapshot(self) -> list[HumanLabel]:
        return list(self._labels.values())

    def get(self, post_id: str) -> HumanLabel | None:
        return self._labels.get(post_id)

    @property
    def usable(self) -> int:
        """Labels that can be trained on by themselves (near-duplicate conflicts are found at training time)."""
        return len(self._labels) - len(self._problems)

    def problems(self) -> dict[str, int]:
        return dict(sorted(Counter(p.reason for p in self._problems.values()).items()))

    def __len__(self) -> int:
        return len(self._labels)


class ReportedLabels:
    """Keys of the labels already dead-lettered (an append-only file), so each is reported once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys: set[str] = set(path.read_text(encoding="utf-8").split()) if path.exists() else set()

    @staticmethod
    def key(value: bytes, reason: str) -> str:
        return hashlib.sha256(value + b"\n" + reason.encode()).hexdigest()[:32]

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def add(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write("".join(k + "\n" for k in keys))
            fh.flush()
            os.fsync(fh.fileno())
        self._keys.update(keys)

    def __len__(self) -> int:
        return len(self._keys)


class OutcomeRecord(BaseModel):
    """What became of one request: kept in the trainer's state and shown by the status endpoint."""

    request_id: str
    requested_for: str
    status: Literal["registered", "rejected", "skipped", "failed"]
    message: str
    version: str | None = None
    report_dir: str | None = None
    seconds: float = 0.0
    resumed: bool = False
    rejected_labels: dict[str, int] = Field(default_factory=dict)
    general: GeneralCheck | None = None  # the retrained model and the champion on the general set
    labels_seen: int = 0  # human labels handed to the retrain
    human_train_rows: int = 0  # of them, the rows it trained on (the rest held out to judge it)
    finished_at: dt.datetime = Field(default_factory=utcnow)

    @classmethod
    def of(cls, outcome: RetrainOutcome) -> OutcomeRecord:
        return cls(
            request_id=outcome.request_id, requested_for=outcome.requested_for, status=outcome.status,
            message=outcome.message, version=outcome.version,
            report_dir=None if outcome.report_dir is None else str(outcome.report_dir),
            seconds=outcome.seconds, resumed=outcome.resumed, rejected_labels=outcome.rejected_labels,
            general=outcome.general, labels_seen=outcome.labels_seen, human_train_rows=outcome.human_train_rows,
        )


class TrainerState(BaseModel):
    pending: list[RetrainRequest] = Field(default_factory=list)  # pending[0] is the one in flight
    done: list[str] = Field(default_factory=list)
    coalesced: dict[str, int] = Field(default_factory=dict)  # per model version, while its retrain is pending
    backoff: RetryBackoff = Field(default_factory=RetryBackoff)  # versions whose last retrain failed or skipped
    outcomes: list[OutcomeRecord] = Field(default_factory=list)  # the latest last
    labels_at: dict[str, int] = Field(default_factory=dict)  # request id → human labels on file when it was queued

    @classmethod
    def load(cls, path: Path) -> TrainerState:
        return cls.model_validate_json(path.read_text()) if path.exists() else cls()

    def save(self, path: Path) -> None:
        atomic_write_text(path, self.model_dump_json(indent=1))

    def offer(self, request: RetrainRequest, labels: int = 0) -> bool:
        """Queue a request unless it is a replay or its model version already has one pending
        (``labels``: human labels on file now, from which its fresh labels are counted)."""
        if request.request_id in self.done or any(r.request_id == request.request_id for r in self.pending):
            return False
        if any(r.model_version == request.model_version for r in self.pending):
            self.coalesced[request.model_version] = self.coalesced.get(request.model_version, 0) + 1
            return False
        self.pending.append(request)
        self.labels_at[request.request_id] = labels
        return True

    def fresh(self, request: RetrainRequest, labels: int) -> int:
        """Human labels that arrived since the request was queued."""
        return max(labels - self.labels_at.get(request.request_id, 0), 0)

    def finish(self, request: RetrainRequest, outcome: RetrainOutcome | None = None) -> None:
        self.pending = [r for r in self.pending if r.request_id != request.request_id]
        self.labels_at.pop(request.request_id, None)
        self.coalesced.pop(request.model_version, None)
        self.done = (self.done + [request.request_id])[-DONE_REMEMBERED:]
        if outcome is not None:
            self.outcomes = (self.outcomes + [OutcomeRecord.of(outcome)])[-OUTCOMES_REMEMBERED:]


# ------------------------------------------------------------------ what the status endpoint shows


class RunningRetrain(BaseModel):
    request_id: str
    model_version: str
    phase: str  # one of drift.retraining.job.PHASES, or "announcement"
    phase_since: dt.datetime
    started_at: dt.datetime


class LabelCounts(BaseModel):
    on_file: int
    usable: int
    rejected: dict[str, int]  # reason → labels that cannot be trained on by themselves
    unreadable_lines: int  # lines of the label file that are no label (a crash mid-write)
    dead_lettered: int  # bad_label dead letters sent, over the trainer's life


class TrainerStatus(BaseModel):
    state: Literal["training", "announcing", "waiting", "idle"]
    running: RunningRetrain | None
    pending: list[RetrainRequest]
    coalesced: dict[str, int]
    holds: list[str]  # why pending requests wait: labels, or a failed version's cool-down
    # model version → failures (in a row), last_at, labels_seen, message, retry_at, retry_after_labels (new ones)
    backoff: dict[str, dict[str, Any]]
    last_outcome: OutcomeRecord | None
    outcomes: list[OutcomeRecord]
    labels: LabelCounts
    problems: list[str]  # what went wrong outside a retrain (registry, broker), newest last
    started_at: dt.datetime


def pause_at(pause_dir: Path, phase: str) -> None:
    """Testing only: say ``<phase>.reached`` and wait for ``<phase>.go`` (so a test can kill the trainer there)."""
    slug = phase.replace(" ", "-")
    pause_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(pause_dir / f"{slug}.reached", str(os.getpid()))
    while not (pause_dir / f"{slug}.go").exists():
        time.sleep(0.05)


# ------------------------------------------------------------------ the Kafka loop


class TrainerWorker:
    def __init__(
        self, settings: Settings, config: TrainerConfig | None = None, *, progress: Progress = False,
        base: LabelledData | None = None, pause_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.config = config or TrainerConfig()
        self.progress = progress
        self.base = base
        self.pause_dir = pause_dir
        root = settings.state_dir / "trainer"
        self.labels = LabelStore(root / "labels.jsonl")
        self.reported = ReportedLabels(root / "dead_lettered_labels.txt")
        self.state_path = root / "state.json"
        self.state = TrainerState.load(self.state_path)
        self.outcomes: list[RetrainOutcome] = []  # this process's, in order
        self.problems: list[str] = []
        self.started_at = utcnow()
        self._lock = threading.RLock()  # the status endpoint reads from its own thread
        self._thread: threading.Thread | None = None
        self._result: RetrainOutcome | None = None
        self._announce: RetrainOutcome | None = None  # finished, not yet taken by the broker
        self._announce_after = 0.0
        self._running: RunningRetrain | None = None
        self._waiting_for: str | None = None
        self._unreported: list[tuple[HumanLabel, RejectedLabel]] = []
        self._runs_closed = False
        self._recovery: threading.Thread | None = None
        self._producer: Any = None
        self.erased: set[str] = set()  # SHA-256 of erased post ids (streams.kafka.erasures), filled by run()
        removed = clear_scratch(retrain_places(settings).work_dir)
        if removed:
            log.warning("removed %d training scratch folder(s) a stopped retrain left: %s", len(removed),
                        ", ".join(p.name for p in removed))

    def _consumer(self) -> Any:
        from streams.kafka.group import group_consumer

        return group_consumer(self.settings, "labels", "retrain-requests", group="trainer", client_id="brandpulse-trainer")

    def _problem(self, text: str) -> None:
        log.error("%s", text)
        with self._lock:
            self.problems = (self.problems + [f"{utcnow():%Y-%m-%d %H:%M:%S} {text}"])[-10:]

    def handle(self, topic: str, value: bytes) -> None:
        """Apply one consumed record (label or retrain request) to the trainer's state."""
        try:
            if topic == self.settings.topic("labels"):
                label = HumanLabel.model_validate_json(value)
                if sha256_hex(label.post_id) in self.erased:  # a label made while its post was being erased
                    return
                with self._lock:
                    for problem in self.labels.add([label]):
                        self._unreported.append((label, problem))
                return
            request = RetrainRequest.model_validate_json(value)
            with self._lock:
                queued = self.state.offer(request, len(self.labels))
            if queued:
                log.info("retrain request %s for %s queued: %s", request.request_id, request.model_version, request.reason)
            else:
                log.info("retrain request %s for %s coalesced or already done", request.request_id, request.model_version)
        except ValidationError as exc:
            # The workers' store role dead-letters an unreadable label; a request only the trainer reads.
            log.error("ignoring malformed record on %s: %s", topic, exc)

    # ---- the retrain thread --------------------------------------------------------------

    def _phase(self, phase: str) -> None:
        with self._lock:
            if self._running is not None:
                self._running = self._running.model_copy(update={"phase": phase, "phase_since": utcnow()})
        log.info("retrain phase: %s", phase)
        if self.pause_dir is not None:
            pause_at(self.pause_dir, phase)

    def _close_stale_runs(self) -> None:
        """End the MLflow runs a killed retrain left RUNNING (none can be live: one retrain at a time)."""
        from models.registry import close_stale_runs

        work_dir = retrain_places(self.settings).work_dir
        try:
            work_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=work_dir, prefix=SCRATCH_PREFIX) as scratch:  # cleared if killed
                closed = close_stale_runs(REQUEST_TAG, registry=registry_config(self.settings), staging_dir=Path(scratch))
        except Exception as exc:  # noqa: BLE001 - retried before the next retrain; the loop carries on
            self._problem(redact(f"could not end stale MLflow runs ({type(exc).__name__}: {exc}); retried before "
                                 "the next retrain", self.settings.tracking_uri))
            return
        self._runs_closed = True
        if closed:
            log.warning("ended %d MLflow run(s) a stopped retrain left running: %s", len(closed), ", ".join(closed))

    def _train(self, request: RetrainRequest, labels: list[HumanLabel]) -> None:
        if not self._runs_closed:
            self._close_stale_runs()
        try:
            outcome = run_retrain(
                request, labels, retrain_places(self.settings), config=self.config, base=self.base,
                progress=self.progress, on_phase=self._phase,
            )
        except Exception as exc:  # noqa: BLE001 - run_retrain reports its own failures; this is the last guard
            log.exception("retrain %s crashed", request.request_id)
            outcome = RetrainOutcome(
                request_id=request.request_id, requested_for=request.model_version, status="failed",
                requested_at=request.requested_at,
                message=f"retrain for {request.model_version} crashed: {type(exc).__name__}: {exc}",
            )
        log.info("retrain %s %s in %.0fs: %s", request.request_id, outcome.status, outcome.seconds, outcome.message)
        self._result = outcome

    # ---- the loop's steps ----------------------------------------------------------------

    def _step_training(self) -> None:
        if self._thread is not None and not self._thread.is_alive():
            self._thread = None
            assert self._result is not None
            self._announce, self._result = self._result, None
        if self._announce is not None:
            self._step_announce()
            return
        if self._recovery is not None and self._recovery.is_alive():
            return  # no new MLflow run before the stale ones are ended
        if self._thread is None and self.state.pending:
            self._start_next()

    def _step_announce(self) -> None:
        """Announce the finished retrain; the request leaves the pending list only once the broker has it."""
        outcome = self._announce
        assert outcome is not None
        if time.monotonic() < self._announce_after:
            return
        self._phase("announcement")
        try:
            announce(self.settings, events=[outcome.event()], alerts=[outcome.alert()])
        except Exception as exc:  # noqa: BLE001 - the outcome stays until the broker takes it
            self._announce_after = time.monotonic() + ANNOUNCE_RETRY_S
            self._problem(f"could not announce the outcome of retrain {outcome.request_id} "
                          f"({type(exc).__name__}: {exc}); retrying in {ANNOUNCE_RETRY_S:.0f}s")
            return
        request = next((r for r in self.state.pending if r.request_id == outcome.request_id), None)
        with self._lock:
            self.outcomes.append(outcome)
            self._unreported += [(h, r) for r in outcome.rejected if (h := self.labels.get(r.post_id)) is not None]
            if request is not None:
                self.state.finish(request, outcome)
            self.state.backoff.record(outcome)
            self._announce = None
            self._running = None
            self.state.save(self.state_path)

    def _next(self) -> tuple[RetrainRequest | None, list[str]]:
        """The pending request that may run now (None: all wait), and why the others before it wait."""
        labels, need = len(self.labels), self.config.fresh_labels
        # A drift alert comes before the labels of what drifted: train on those, not only on the stream before it.
        unfresh = [r for r in self.state.pending if self.state.fresh(r, labels) < need]
        waits = [f"retrain for {r.model_version} (request {r.request_id}) waits for labels of the stream since it was "
                 f"asked: {self.state.fresh(r, labels)} of {need}" for r in unfresh]
        ready = [r for r in self.state.pending if r not in unfresh]
        request, backoff_waits = self.state.backoff.first_ready(ready, labels, self.config)
        waits += backoff_waits
        if request is None or self.labels.usable >= self.config.min_labels:
            return request, waits
        # Drift alerts come early, labels later: keep the request until there is enough to learn from.
        hold = (f"retrain for {request.model_version} (request {request.request_id}) waits for human labels: "
                f"{self.labels.usable} usable of {self.config.min_labels} needed")
        if self.labels.problems():
            hold += f" ({len(self.labels) - self.labels.usable} more cannot be used: {self.labels.problems()})"
        return None, waits + [hold]

    def _start_next(self) -> None:
        request, waits = self._next()
        if request is None:  # no labels enough yet, or a failed version's cool-down
            held = waits[-1].split(":", 1)[0]  # said once per request and kind of hold, not at every label
            if self._waiting_for != held:
                log.info("%s", waits[-1])
                self._waiting_for = held
            return
        with self._lock:
            self.state.pending.remove(request)
            self.state.pending.insert(0, request)  # pending[0] is the one in flight
        log.info("retraining for %s (request %s) with %d human labels", request.model_version, request.request_id, len(self.labels))
        now = utcnow()
        with self._lock:
            self._running = RunningRetrain(request_id=request.request_id, model_version=request.model_version,
                                           phase="starting", phase_since=now, started_at=now)
        self._thread = threading.Thread(
            target=self._train, args=(request, self.labels.snapshot()), name="brandpulse-retrain", daemon=True
        )
        self._thread.start()

    def _report_labels(self) -> None:
        """Each label that cannot be trained on, as a ``bad_label`` dead letter with its reason, once."""
        with self._lock:
            batch, self._unreported = self._unreported, []
        letters: list[tuple[str, DeadLetter]] = []
        for label, problem in batch:
            value = label.model_dump_json().encode()
            key = ReportedLabels.key(value, problem.reason)
            if key in self.reported or any(k == key for k, _ in letters):
                continue
            letters.append((key, dead_letter(
                kind="bad_label", reason=f"{problem.reason}: {problem.detail}; the trainer cannot train on it",
                topic=self.settings.topic("labels"), partition=-1, offset=record_offset(value + problem.reason.encode()),
                key=label.post_id.encode(), value=value, post_id=label.post_id,
            )))
        if not letters:
            return
        try:
            producer = self._dead_letter_producer()
            futures = [producer.send(self.settings.topic("deadletter"), key=dl.post_id.encode() if dl.post_id else None,
                                     value=dl.model_dump_json().encode()) for _, dl in letters]
            producer.flush()
            for f in futures:
                f.get(timeout=30)
        except Exception as exc:  # noqa: BLE001 - kept and sent again at the next step
            with self._lock:
                self._unreported = batch + self._unreported
            self._problem(f"could not dead-letter {len(letters)} unusable label(s) ({type(exc).__name__}: {exc}); retrying")
            return
        self.reported.add([k for k, _ in letters])
        for _, dl in letters:
            log.warning("dead-lettered label of post %s: %s", dl.post_id, dl.reason)

    def _dead_letter_producer(self) -> Any:
        if self._producer is None:
            from kafka import KafkaProducer

            from streams.kafka.security import open_client

            self._producer = open_client(KafkaProducer, self.settings, acks="all", retries=5,
                                         client_id="brandpulse-trainer-dead-letters")
        return self._producer

    def forget_erased(self, hashes: Collection[str]) -> None:
        """Take these erased posts (SHA-256 of their ids) out of the label store, and skip their labels from now on."""
        with self._lock:
            self.erased |= set(hashes)
            dropped = self.labels.forget(self.erased)
            self._unreported = [(h, r) for h, r in self._unreported if sha256_hex(h.post_id) not in self.erased]
        if dropped:
            log.info("dropped %d labels of erased posts", dropped)

    def run(self, stop: threading.Event) -> None:
        """Consume and train until ``stop`` is set; a retrain in flight is resumed on the next start."""
        from streams.kafka.erasures import ErasureList

        self._recovery = threading.Thread(target=self._close_stale_runs, name="brandpulse-trainer-recovery", daemon=True)
        self._recovery.start()
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
                    with self._lock:
                        self.state.save(self.state_path)
                    consumer.commit()  # after the label store and state file hold what was read
                self._step_training()
                self._report_labels()
        finally:
            consumer.close()
            erasures.close()
            if self._producer is not None:
                self._producer.close()

    @property
    def busy(self) -> bool:
        return self._thread is not None or self._announce is not None

    def status(self) -> TrainerStatus:
        """What the trainer is doing now (safe to call from another thread)."""
        with self._lock:
            running = self._running
            pending = list(self.state.pending)
            backoff = {
                version: {**attempts.model_dump(mode="json"),
                          # After a lost retrain only new labels help: no time to show.
                          "retry_at": (r.isoformat() if not attempts.new_labels_only
                                       and (r := self.state.backoff.retry_at(version, self.config)) else None),
                          "retry_after_labels": max(self.config.retry_new_labels - (len(self.labels) - attempts.labels_seen), 0)}
                for version, attempts in self.state.backoff.versions.items()
            }
            outcomes = list(self.state.outcomes)
            return TrainerStatus(
                state=("announcing" if self._announce is not None else "training" if running is not None
                       else "waiting" if pending else "idle"),
                running=running,
                pending=pending,
                coalesced=dict(self.state.coalesced),
                holds=self._next()[1] if pending and running is None and self._announce is None else [],
                backoff=backoff,
                last_outcome=outcomes[-1] if outcomes else None,
                outcomes=outcomes,
                labels=LabelCounts(on_file=len(self.labels), usable=self.labels.usable, rejected=self.labels.problems(),
                                   unreadable_lines=self.labels.unreadable_lines, dead_lettered=len(self.reported)),
                problems=list(self.problems),
                started_at=self.started_at,
            )
