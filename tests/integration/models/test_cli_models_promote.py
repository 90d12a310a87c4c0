"""``brandpulse models train → list → promote → evaluate`` in-process, with the promotion announced on the real broker."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli.models import create_models_cli
from streams.core.settings import Settings
from tests.support.cli import NEGATIVE, POSITIVE, use_data_dir, write_jsonl

runner = CliRunner()
app = create_models_cli()


def test_train_register_promote_evaluate(tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    use_data_dir(tmp_path, monkeypatch)
    # `promote` announces the new champion on the model-events topic: give it a broker and own topics.
    from kafka import KafkaConsumer

    from streams.kafka.topics import create_topics

    monkeypatch.setenv("BRANDPULSE_KAFKA_URL", f"kafka://{kafka_bootstrap}")
    # pytest reuses temp folder names across sessions; a long-lived dev broker keeps old topics.
    monkeypatch.setenv("BRANDPULSE_TOPIC_PREFIX", f"t{uuid.uuid4().hex[:12]}")
    create_topics(Settings())
    rows = [(f"{t} #{i}", lab) for i in range(4) for lab, ts in (("positive", POSITIVE), ("negative", NEGATIVE)) for t in ts]
    data = write_jsonl(tmp_path / "train.jsonl", rows)
    result = runner.invoke(app, [
        "train", "--data", str(data), "--scheme", "binary", "--max-steps", "4", "--batch-size", "8",
        "--max-length", "32", "--lr", "1e-4", "--out", str(tmp_path / "ckpt"), "--register", "--alias", "challenger",
    ])
    assert result.exit_code == 0, result.output
    assert "registered brandpulse-sentiment/v1 as challenger" in result.output

    listed = runner.invoke(app, ["list"])
    assert "v1" in listed.output and "challenger" in listed.output

    promoted = runner.invoke(app, ["promote"])
    assert promoted.exit_code == 0 and "champion is now brandpulse-sentiment/v1" in promoted.output
    consumer = KafkaConsumer(Settings().topic("model-events"), bootstrap_servers=kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    events = [json.loads(m.value) for m in consumer]
    consumer.close()
    assert [(e["role"], e["version"]) for e in events] == [("champion", "brandpulse-sentiment/v1")]

    test = write_jsonl(tmp_path / "test.jsonl", [("awful, just awful", "negative"), ("wonderful crew", "positive")])
    report = tmp_path / "report"
    evaluated = runner.invoke(app, ["evaluate", "champion", "--data", str(test), "--scheme", "binary", "--report", str(report)])
    assert evaluated.exit_code == 0, evaluated.output
    assert "brandpulse-sentiment/v1" in evaluated.output
    assert (report / "report.md").is_file() and (report / "report.json").is_file()


def test_a_registry_that_cannot_take_the_model_fails_clearly_and_keeps_the_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_data_dir(tmp_path, monkeypatch)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the registry's folder should be")
    monkeypatch.setenv("BRANDPULSE_MLFLOW_TRACKING_URI", f"sqlite:///{blocker}/mlflow.db")
    rows = [(f"{t} #{i}", lab) for i in range(4) for lab, ts in (("positive", POSITIVE), ("negative", NEGATIVE)) for t in ts]
    result = runner.invoke(app, [
        "train", "--data", str(write_jsonl(tmp_path / "train.jsonl", rows)), "--scheme", "binary", "--max-steps", "2",
        "--batch-size", "8", "--max-length", "32", "--out", str(tmp_path / "ckpt"), "--register",
    ])
    assert (result.exit_code, f"it stays in {tmp_path / 'ckpt'}" in result.output.replace("\n", "")) == (2, True), result.output
