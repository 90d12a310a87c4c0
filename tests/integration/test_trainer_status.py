"""What the trainer says when labels are bad or too few, or the registry is gone, and that its loop carries on.

The trainer loop runs in-process on the real broker (its status is what the status endpoint serves);
retrains that get past their checks fail fast on a missing base corpus, so no test trains a model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drift.retraining.config import TrainerConfig
from models.train import TrainConfig
from streams.core.schemas import DeadLetter, HumanLabel, RetrainRequest
from streams.core.settings import Settings
from streams.services.trainer import LabelStore, TrainerStatus, TrainerWorker
from streams.core.web_auth import UnsafeBind
from streams.services.trainer_status import StatusServer, fetch_status
from tests.support.data import airline_human_labels as human_labels
from tests.support.kafka_io import consume, produce
from tests.support.net import free_port

FAST = TrainConfig(max_steps=2, max_length=32, batch_size=8, threads=1)


@pytest.fixture
def settings(kafka_settings: Settings) -> Settings:
    return kafka_settings


@pytest.fixture
def running(settings: Settings, tmp_path: Path) -> Iterator[Callable[..., TrainerWorker]]:
    loops: list[tuple[threading.Event, threading.Thread]] = []

    def start(config: TrainerConfig, run_settings: Settings | None = None) -> TrainerWorker:
        worker = TrainerWorker(run_settings or settings, config)
        stop = threading.Event()
        loop = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        loop.start()
        loops.append((stop, loop))
        return worker

    yield start
    for stop, loop in loops:
        stop.set()
        loop.join(60)


def failing(tmp_path: Path, **update: Any) -> TrainerConfig:
    """A config whose retrains fail right after their checks (the base corpus does not exist)."""
    return TrainerConfig(base_corpus=str(tmp_path / "missing.csv"), train=FAST, **{"min_labels": 10, **update})


def wait_status(worker: TrainerWorker, check: Callable[[TrainerStatus], Any], timeout_s: float = 300) -> TrainerStatus:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = worker.status()
        if check(status):
            return status
        time.sleep(0.2)
    raise TimeoutError(f"status never matched; last: {worker.status().model_dump_json(indent=1)}")


def request(settings: Settings, rid: str, version: str = "m/v1") -> None:
    produce(settings, "retrain-requests", [(None, RetrainRequest(request_id=rid, model_version=version, reason="t").model_dump_json().encode())])


def publish(settings: Settings, labels: list[HumanLabel]) -> None:
    produce(settings, "labels", [(h.post_id, h.model_dump_json().encode()) for h in labels])


BAD = [
    HumanLabel(post_id="bad-1", label="mixed", annotator="a", text="meh, could be worse"),
    HumanLabel(post_id="bad-2", label="negative", annotator="a", text="   "),
    HumanLabel(post_id="bad-3", label="Negative", annotator="a", text=None),
]



def test_each_unusable_label_is_dead_lettered_once_with_its_reason(
    settings: Settings, running: Callable[..., TrainerWorker], tmp_path: Path
) -> None:
    worker = running(failing(tmp_path))
    publish(settings, human_labels(20) + BAD + BAD[:1])  # the first bad label arrives twice
    # Near duplicates labelled two ways are found when a retrain groups the labels.
    publish(settings, [HumanLabel(post_id="dup-1", label="positive", annotator="a", text="@united thanks for the upgrade"),
                       HumanLabel(post_id="dup-2", label="negative", annotator="b", text="@delta thanks for the upgrade")])
    wait_status(worker, lambda s: s.labels.on_file == 25)  # so the retrain sees the near duplicates
    request(settings, "r-bad")
    wait_status(worker, lambda s: s.last_outcome is not None and s.labels.dead_lettered == 5)
    letters = [DeadLetter.model_validate_json(v) for v in consume(settings, "deadletter", timeout_s=20, until=6)]
    got = sorted((d.post_id, d.error_kind, d.reason.split(":")[0]) for d in letters)
    assert got == [("bad-1", "bad_label", "unknown_label"), ("bad-2", "bad_label", "no_text"),
                   ("bad-3", "bad_label", "no_text"), ("dup-1", "bad_label", "conflicting_labels"),
                   ("dup-2", "bad_label", "conflicting_labels")]


def test_a_retrain_with_too_few_usable_labels_waits_saying_why_and_runs_once_they_come(
    settings: Settings, running: Callable[..., TrainerWorker], tmp_path: Path
) -> None:
    labels = human_labels(30)
    worker = running(failing(tmp_path, min_labels=20))
    publish(settings, labels[:5] + BAD)
    request(settings, "r-few")
    waiting = wait_status(worker, lambda s: s.holds and s.labels.on_file == 8)
    publish(settings, labels[5:])
    done = wait_status(worker, lambda s: s.last_outcome is not None)
    assert (waiting.state, waiting.holds[-1].split(": ", 1)[1], done.last_outcome.request_id, done.pending) == (  # type: ignore[union-attr]
        "waiting", "5 usable of 20 needed (3 more cannot be used: {'no_text': 2, 'unknown_label': 1})", "r-few", []
    )


def test_an_unreachable_registry_fails_each_retrain_with_the_reason_and_the_loop_carries_on(
    settings: Settings, running: Callable[..., TrainerWorker], tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the registry's directory should be")
    unreachable = settings.model_copy(update={"mlflow_tracking_uri": f"sqlite:///{blocked}/mlflow.db"})
    worker = running(failing(tmp_path), unreachable)
    publish(settings, human_labels(20))
    request(settings, "r-1", "m/v1")
    request(settings, "r-2", "m/v2")
    status = wait_status(worker, lambda s: len(s.outcomes) == 2)
    assert ([(o.request_id, o.status, "model registry could not be reached" in o.message) for o in status.outcomes],
            sorted(status.backoff), any("stale MLflow runs" in p for p in status.problems)) == (
        [("r-1", "failed", True), ("r-2", "failed", True)], ["m/v1", "m/v2"], True
    )


def test_unreadable_lines_of_the_label_file_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(HumanLabel(post_id="1", label="negative", annotator="a", text="late").model_dump_json()
                    + "\n{\"post_id\": \"2\", \"lab\n")
    store = LabelStore(path)
    assert (len(store), store.unreadable_lines) == (1, 1)


def test_the_status_endpoint_will_not_listen_beyond_loopback_without_authentication(settings: Settings) -> None:
    with pytest.raises(UnsafeBind, match="the trainer status endpoint"):
        StatusServer(settings.model_copy(update={"trainer_host": "0.0.0.0"}), lambda: None)  # type: ignore[arg-type, return-value]


def test_with_a_token_the_status_needs_it(settings: Settings) -> None:
    import httpx
    from pydantic import SecretStr

    secured = settings.model_copy(update={"web_token": SecretStr("s3cret-token-for-the-trainer"), "trainer_port": free_port()})
    worker = TrainerWorker(secured, TrainerConfig())
    server = StatusServer(secured, worker.status).start()
    try:
        bare = httpx.get(f"{server.url}/status", timeout=10).status_code
        with_token = fetch_status(secured).state
    finally:
        server.stop()
    assert (bare, with_token) == (401, "idle")
