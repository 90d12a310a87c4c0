"""The loop benchmark's pieces that need no training: the brand of a tweet and the command's argument checks."""

from __future__ import annotations

from typer.testing import CliRunner

from benchmarks.loop import brand_of


def test_brand_of_reads_the_first_handle() -> None:
    assert brand_of("@united where is my bag @delta") == "united" and brand_of("no handle") == "unknown"


def test_bench_loop_refuses_bad_arguments() -> None:
    from streams.cli.main import create_cli

    app = create_cli()
    runner = CliRunner()
    for args in (["--labels", "ten"], ["--labels", "5"], ["--strategies", "clever"], ["--starts", "cold"]):
        result = runner.invoke(app, ["bench", "loop", *args])
        assert result.exit_code == 2, (args, result.output)
