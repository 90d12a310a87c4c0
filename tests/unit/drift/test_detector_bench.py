from __future__ import annotations

from typer.testing import CliRunner

from benchmarks.cli import create_bench_cli
from benchmarks.detectors import format_table, run


def test_bench_small_run_detects_every_shift_without_false_alarms() -> None:
    rows = {(r.scenario, r.detector): r for r in run(seeds=3, length=6_000, methods=["adwin", "page_hinkley"])}
    for (scenario, _), row in rows.items():
        assert row.false_alarms == 0 and row.extra_alerts == 0, row
        if "stationary" not in scenario:
            assert row.detected == row.streams == 3, row
    assert rows[("labels negative +20pt", "chi2+js+psi")].max_delay <= 500  # type: ignore[operator]
    table = format_table(list(rows.values()))
    assert "median delay" in table and "confidence -0.08 mean" in table


def test_bench_cli_refuses_a_stream_too_short_for_the_change() -> None:
    out = CliRunner().invoke(create_bench_cli(), ["detectors", "--length", "100"])
    assert out.exit_code == 2 and "--length" in out.output
