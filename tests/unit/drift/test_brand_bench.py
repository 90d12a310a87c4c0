"""`brandpulse bench spikes` with one seed: every crisis found, no false alarm, cost printed."""

from __future__ import annotations

from typer.testing import CliRunner

from streams.cli.main import create_cli
from tests.support.data import AIRLINE_CSV, airline_rows


def test_spike_bench_one_seed() -> None:
    airline_rows()  # skips without the shared data
    out = CliRunner().invoke(create_cli(), ["bench", "spikes", "--seeds", "1", "--data", str(AIRLINE_CSV)])
    assert out.exit_code == 0, out.output
    lines = {line.split("  ")[0]: line.split() for line in out.output.splitlines() if line.strip()}
    for scenario in ("synthetic crisis 250/10min", "synthetic crisis 60/10min", "airline crisis 250/10min"):
        row = lines[scenario]
        assert "1/1" in row, row
    for line in out.output.splitlines():
        if line.startswith(("synthetic", "airline crisis", "airline retweet")):
            assert line.split()[-2] == "0", line  # false alarms
    assert "% of worker busy time" in out.output and "dense, 383 posts/s" in out.output
