"""The data-mix bench trains a variant of the first-run recipe and scores it on every set (numbers printed, not asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.cli import create_bench_cli
from tests.support.cli import use_data_dir
from tests.support.data import SHARED_DATA, needs_shared_data


def test_a_smoke_run_scores_the_variant_on_the_held_out_extras_and_the_shared_sets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_shared_data()
    use_data_dir(tmp_path, monkeypatch)
    out = tmp_path / "mix.json"
    result = CliRunner().invoke(create_bench_cli(), [
        "data-mix", "--shared-data", str(SHARED_DATA), "--variants", "vt", "--max-steps", "2", "--sample", "60", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    row = json.loads(out.read_text())["rows"][0]
    assert {k for k, v in row.items() if isinstance(v, dict)} == {"held-out vt", "held-out mv", "tweeteval/val", "airline", "sst2/dev"}
