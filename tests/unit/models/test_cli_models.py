"""``brandpulse models ...`` through typer's runner, against a temporary data dir."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli.models import create_models_cli
from streams.core.settings import Settings

runner = CliRunner()
app = create_models_cli()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    state = tmp_path / "state"
    monkeypatch.setenv("BRANDPULSE_DATA_DIR", str(state))
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps tables to the terminal width
    monkeypatch.chdir(tmp_path)
    yield state


def _jsonl(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("\n".join(json.dumps({"text": t, "label": lab}) for t, lab in rows))
    return path


POSITIVE = ["love it", "great service", "so happy with this", "fantastic crew", "thank you, wonderful", "best flight"]
NEGATIVE = ["hate it", "terrible service", "so angry with this", "rude crew", "lost my bag, awful", "worst flight"]


@pytest.mark.parametrize("command", ["train", "evaluate", "compare", "bootstrap", "promote", "list"])
def test_every_command_has_help_with_examples(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output


def test_empty_registry_is_explained(data_dir: Path) -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0 and "no registered models" in result.output
    result = runner.invoke(app, ["promote"])
    assert result.exit_code == 2 and "nothing is registered yet" in result.output


def test_bad_data_is_a_clear_error(data_dir: Path, tmp_path: Path) -> None:
    one = _jsonl(tmp_path / "one.jsonl", [(t, "positive") for t in POSITIVE])
    result = runner.invoke(app, ["train", "--data", str(one), "--scheme", "binary", "--max-steps", "1"])
    assert result.exit_code == 2 and "only one class" in result.output
    result = runner.invoke(app, ["train", "--data", "nope.csv"])
    assert result.exit_code == 2 and "neither a built-in dataset" in result.output


@pytest.mark.slow
def test_train_register_promote_evaluate(
    data_dir: Path, tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `promote` announces the new champion on the model-events topic: give it a broker and own topics.
    from kafka import KafkaConsumer

    from streams.kafka.topics import create_topics

    monkeypatch.setenv("BRANDPULSE_KAFKA_URL", f"kafka://{kafka_bootstrap}")
    # pytest reuses temp folder names across sessions; a long-lived dev broker keeps old topics.
    monkeypatch.setenv("BRANDPULSE_TOPIC_PREFIX", f"t{uuid.uuid4().hex[:12]}")
    create_topics(Settings())
    rows = [(f"{t} #{i}", lab) for i in range(4) for lab, ts in (("positive", POSITIVE), ("negative", NEGATIVE)) for t in ts]
    data = _jsonl(tmp_path / "train.jsonl", rows)
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

    test = _jsonl(tmp_path / "test.jsonl", [("awful, just awful", "negative"), ("wonderful crew", "positive")])
    report = tmp_path / "report"
    evaluated = runner.invoke(app, ["evaluate", "champion", "--data", str(test), "--scheme", "binary", "--report", str(report)])
    assert evaluated.exit_code == 0, evaluated.output
    assert "brandpulse-sentiment/v1" in evaluated.output
    assert (report / "report.md").is_file() and (report / "report.json").is_file()


NEUTRAL = ["flight at 9", "boarding now", "seat 12A", "gate changed to B4", "landed in Denver", "checking in"]


def test_train_with_a_teacher_distils_and_refuses_folds(data_dir: Path, tmp_path: Path, trained_model: Path) -> None:
    rows = [(f"{t} #{i}", lab) for i in range(3)
            for lab, ts in (("positive", POSITIVE), ("negative", NEGATIVE), ("neutral", NEUTRAL)) for t in ts]
    data = _jsonl(tmp_path / "train.jsonl", rows)
    valid = _jsonl(tmp_path / "valid.jsonl", [(f"{t}!", lab) for lab, ts in
                                               (("positive", POSITIVE), ("negative", NEGATIVE), ("neutral", NEUTRAL)) for t in ts[:2]])
    result = runner.invoke(app, [
        "train", "--data", str(data), "--valid", str(valid), "--teacher", str(trained_model), "--kd-alpha", "0.7",
        "--kd-temperature", "3", "--max-steps", "3", "--batch-size", "8", "--max-length", "32", "--out", str(tmp_path / "kd"),
    ])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "kd" / "brandpulse.json").read_text())
    assert meta["distilled_from"] == "test-minilm/1" and "alpha 0.7, T 3.0" in meta["trained_on"]

    folds = runner.invoke(app, ["train", "--data", str(data), "--teacher", str(trained_model), "--folds", "3"])
    assert folds.exit_code == 2 and "cannot be combined with --folds" in folds.output

    binary = runner.invoke(app, ["train", "--data", str(data), "--scheme", "binary", "--teacher", str(trained_model),
                                 "--max-steps", "1", "--out", str(tmp_path / "bin")])
    assert binary.exit_code == 2 and "predicts" in binary.output
