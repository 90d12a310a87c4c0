"""Kafka security with real processes: the config command keeps secrets out of its output, a worker with a
wrong password exits with one line, and worker, trainer and replay run end to end over mTLS and SCRAM."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.core.settings import Settings
from tests.support.data import AIRLINE_CSV, REPO, needs_shared_data
from tests.support.kafka_front import SecuredBroker
from tests.support.kafka_security import USERS, Pki, modes, settings_for
from tests.support.stack import make_stack
from tests.support.waiting import wait_for


def test_secrets_stay_out_of_repr_logs_and_the_config_command(tmp_path: Path, pki: Pki) -> None:
    s = Settings(kafka_security={"protocol": "SASL_SSL", "ssl_cafile": pki.ca, "sasl_mechanism": "PLAIN",
                                 "sasl_username": "alice", "sasl_password": USERS["alice"]})
    shown = repr(s) + str(s) + s.kafka_security.describe() + s.model_dump_json()
    # The command line reads the password from a secret file (--secrets-dir), the rest from the environment.
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "brandpulse_kafka_security__sasl_password").write_text(USERS["alice"])
    env = {k: v for k, v in s.as_env().items() if not k.endswith("SASL_PASSWORD")}
    out = subprocess.run([sys.executable, "-m", "streams.cli.main", "--secrets-dir", str(secrets), "config"],
                         env={**env, "PATH": "/usr/bin:/bin", "COLUMNS": "300"}, cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert (out.returncode, USERS["alice"] in shown + out.stdout + out.stderr) == (0, False), out.stderr[-2000:]


def test_worker_with_a_wrong_password_exits_with_one_line(secured: Callable[..., SecuredBroker], tmp_path: Path) -> None:
    broker = secured(users=USERS)
    s = settings_for(broker, tmp_path, {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                                        "sasl_username": "bob", "sasl_password": "not-bobs-password"})
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "streams.cli.main", "worker"], env={"PATH": "/usr/bin:/bin", **s.as_env()},
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert (out.returncode, len(errors), "authentication failed for user 'bob'" in out.stderr,
            "not-bobs-password" in out.stdout + out.stderr, "Traceback" in out.stderr) == (2, 1, True, False, False), (
        out.stderr[-3000:], took)


@pytest.mark.timeout(600)  # a worker stores 200 posts, then the trainer reads 20 labels
@pytest.mark.parametrize("mode", ["mtls", "scram-512-over-tls"])
def test_worker_trainer_and_replay_end_to_end(mode: str, pki: Pki, secured: Callable[..., SecuredBroker],
                                             tmp_path: Path, trained_model: Path) -> None:
    import pandas as pd

    from streams.kafka.replay import PRESET_TIME_FORMATS, PRESETS, replay, rows_to_posts
    from streams.services.labeller import LabelPublisher
    from streams.services.trainer import TrainerWorker
    from drift.records import HumanLabel

    needs_shared_data()
    front_args, client = modes(pki)[mode]
    broker = secured(**front_args)
    env = {f"BRANDPULSE_KAFKA_SECURITY__{k.upper()}": str(v) for k, v in client.items()}
    stack = make_stack(tmp_path, broker.bootstrap, trained_model, **env)
    try:
        worker = stack.worker().start()
        df = pd.read_csv(AIRLINE_CSV, dtype=str, keep_default_na=False).drop_duplicates("tweet_id").sample(200, random_state=5)
        posts = rows_to_posts(df, PRESETS["airline"], time_format=PRESET_TIME_FORMATS["airline"], platform="twitter")
        summary = replay(posts, settings=stack.settings, topic=stack.topic("posts"), progress=False)
        worker.wait_for(lambda w: sum(w.get("/brands").values()) >= 200, timeout_s=240, what="200 posts stored")

        trainer, stop = TrainerWorker(stack.settings), threading.Event()
        loop = threading.Thread(target=trainer.run, args=(stop,), daemon=True)
        loop.start()
        publish = LabelPublisher(stack.settings)
        for post in posts[:20]:
            publish(HumanLabel(post_id=post["post_id"], label="neutral", annotator="test", text=post["text"]))
        publish.close()
        wait_for(lambda: len(trainer.labels) >= 20, 60, "the trainer to read the 20 labels")
        stop.set()
        loop.join(30)
        worker.stop()
        log = worker.log_path.read_text(errors="replace")
    finally:
        for w in stack.workers:
            w.stop()
    secret = client.get("sasl_password", "\0")
    assert (summary.sent, len(trainer.labels), secret in log, "Kafka reachable" in log) == (200, 20, False, True)
