"""``brandpulse models ...`` through typer's runner, against a temporary data dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli.models import create_models_cli
from tests.support.cli import NEGATIVE, NEUTRAL, POSITIVE, use_data_dir, write_jsonl

runner = CliRunner()
app = create_models_cli()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_data_dir(tmp_path, monkeypatch)


@pytest.mark.parametrize("command", ["train", "evaluate", "compare", "bootstrap", "promote", "list", "card"])
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
    one = write_jsonl(tmp_path / "one.jsonl", [(t, "positive") for t in POSITIVE])
    result = runner.invoke(app, ["train", "--data", str(one), "--scheme", "binary", "--max-steps", "1"])
    assert result.exit_code == 2 and "only one class" in result.output
    result = runner.invoke(app, ["train", "--data", "nope.csv"])
    assert result.exit_code == 2 and "neither a built-in dataset" in result.output


def test_train_with_a_teacher_distils_and_refuses_folds(data_dir: Path, tmp_path: Path, trained_model: Path) -> None:
    rows = [(f"{t} #{i}", lab) for i in range(3)
            for lab, ts in (("positive", POSITIVE), ("negative", NEGATIVE), ("neutral", NEUTRAL)) for t in ts]
    data = write_jsonl(tmp_path / "train.jsonl", rows)
    valid = write_jsonl(tmp_path / "valid.jsonl", [(f"{t}!", lab) for lab, ts in
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
