"""The trainer killed (``kill -9``) in each phase of a retrain registers exactly one version for the request.

A real ``brandpulse trainer`` process on the real broker, with a throw-away MLflow store: it pauses
at the phase under test (``--pause-dir``: it writes ``<phase>.reached`` and waits for
``<phase>.go``), the test kills its process group there, starts a fresh trainer and waits on its
status endpoint for the request's outcome. Then the registry holds one version tagged with the
request, no run is left RUNNING, no scratch folder is left, and the challenger was announced.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drift.retraining.job import PHASES, REQUEST_TAG, SCRATCH_PREFIX
from streams.core.configs import registry_config
from streams.core.schemas import ModelEvent, RetrainRequest
from streams.core.settings import Settings
from tests.support.data import REPO
from tests.support.net import free_port
from tests.support.data import airline_human_labels as human_labels
from tests.support.kafka_io import consume, produce

KILLED_IN = [p for p in PHASES if p != "checking registry"] + ["announcement"]
# CI kills it in two phases, one each side of registration: before, the restart trains again; after,
# it resumes the registered version. The other phases run with `make test-long`.
IN_CI = {"training", "registration"}
ALL_PHASES = list(PHASES) + ["announcement"]


@pytest.fixture
def settings(kafka_settings: Settings) -> Settings:
    return kafka_settings.model_copy(update={"trainer_port": free_port()})


@pytest.fixture
def trainers(settings: Settings, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(pause_dir: Path | None = None) -> subprocess.Popen[bytes]:
        # Sized to take seconds: two optimiser steps from the base encoder, no champion to evaluate.
        cmd = [sys.executable, "-m", "streams.cli.main", "trainer", "--recipes", "scratch", "--base-sample", "200",
               "--min-labels", "10", "--max-steps", "2", "--max-length", "32", "--batch-size", "8", "--threads", "1"]
        if pause_dir is not None:
            cmd += ["--pause-dir", str(pause_dir)]
        log = open(tmp_path / f"trainer-{len(started)}.log", "ab")
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, **settings.as_env()})
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def log_tail(tmp_path: Path) -> str:
    return "\n".join(f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-25:])
                     for p in sorted(tmp_path.glob("trainer-*.log")))


def wait_for(check: Callable[[], Any], proc: subprocess.Popen[bytes], timeout_s: float, what: str, tmp_path: Path) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the trainer exited with {proc.returncode} waiting for {what}\n{log_tail(tmp_path)}"
        if value := check():
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}\n{log_tail(tmp_path)}")


def outcome_of(settings: Settings, request_id: str) -> Callable[[], Any]:
    import httpx

    from streams.services.trainer_status import fetch_status

    def check() -> Any:
        try:
            status = fetch_status(settings)
        except httpx.HTTPError:
            return None
        return next((o for o in status.outcomes if o.request_id == request_id), None)

    return check


def left_behind(settings: Settings, request_id: str) -> tuple[int, list[str], list[str]]:
    """Versions registered for the request, MLflow runs still RUNNING, scratch folders under the trainer's dir."""
    from mlflow.tracking import MlflowClient

    from models.registry import EXPERIMENT, tagged_versions

    registry = registry_config(settings)
    versions = tagged_versions(REQUEST_TAG, request_id, registry=registry)
    client = MlflowClient(tracking_uri=registry.tracking_uri, registry_uri=registry.tracking_uri)
    exp = client.get_experiment_by_name(EXPERIMENT)
    running = [r.info.run_id for r in client.search_runs([exp.experiment_id], "attributes.status = 'RUNNING'")] if exp else []
    scratch = [p.name for p in (settings.state_dir / "trainer").iterdir() if p.name.startswith(SCRATCH_PREFIX)]
    return len(versions), running, scratch


@pytest.mark.parametrize("phase", [p if p in IN_CI else pytest.param(p, marks=pytest.mark.long) for p in KILLED_IN])
def test_a_trainer_killed_in_any_phase_leaves_one_version_per_request(
    phase: str, settings: Settings, trainers: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    pause = tmp_path / "pause"
    pause.mkdir()
    for earlier in ALL_PHASES[: ALL_PHASES.index(phase)]:
        (pause / f"{earlier.replace(' ', '-')}.go").touch()
    labels = human_labels(60, seed=5)
    produce(settings, "labels", [(h.post_id, h.model_dump_json().encode()) for h in labels])
    request = RetrainRequest(request_id=f"kill-{phase}", model_version="m/v1", reason="test: kill -9")
    produce(settings, "retrain-requests", [(None, request.model_dump_json().encode())])

    first = trainers(pause)
    reached = pause / f"{phase.replace(' ', '-')}.reached"
    wait_for(reached.exists, first, 300, f"the {phase} phase", tmp_path)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(10)

    second = trainers()
    outcome = wait_for(outcome_of(settings, request.request_id), second, 400, "the outcome after the restart", tmp_path)
    second.send_signal(signal.SIGTERM)
    second.wait(60)

    events = [ModelEvent.model_validate_json(v) for v in consume(settings, "model-events", timeout_s=20)]
    announced = [e.version for e in events if e.action == "load" and e.version == outcome.version]
    # Killed once the version existed, the restart completes that registration instead of training again.
    resumed = ALL_PHASES.index(phase) >= ALL_PHASES.index("registration")
    assert (outcome.status, *left_behind(settings, request.request_id), bool(announced), outcome.resumed) == (
        "registered", 1, [], [], True, resumed
    ), log_tail(tmp_path)
