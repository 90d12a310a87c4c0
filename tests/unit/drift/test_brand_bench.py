"""`brandpulse bench spikes` with one seed: every crisis found, no false alarm, cost printed."""

from __future__ import annotations

from typer.testing import CliRunner

from streams.cli.main import create_cli
from tests.support.data import AIRLINE_CSV, airline_rows


def test_spike_bench_one_seed() -> None:
    airline_rows()  # skips without the shared data
    out = CliRunner().invoke(create_cli(), ["bench", "spikes", "--seeds", "1", "--data", str(AIRLINE_CSV),
                                            "--worker-posts-per-s", "50"])
    assert out.exit_code == 0, out.output
    lines = {line.split("  ")[0]: line.split() for line in out.output.splitlines() if line.strip()}
    for scenario in ("synthetic crisis 250/10min", "synthetic crisis 60/10min", "airline crisis 250/10min"):
        row = lines[scenario]
        assert "1/1" in row, row
    for line in out.output.splitlines():
        if line.startswith(("synthetic", "airline crisis", "airline retweet")):
            assert line.split()[-2] == "0", line  # false alarms
    # The cost table: the airline week, and a dense stream at the given rate for 10 minutes (50 × 600 posts),
    # each as a share of the worker's busy time at that rate.
    costs = out.output.split("% of worker busy time", 1)[1].strip().splitlines()
    assert [line[:44].strip() for line in costs] == ["airline week (sparse)", "dense, 50 posts/s"]
    assert costs[1].split()[3] == "30,000" and costs[1].endswith("%")
