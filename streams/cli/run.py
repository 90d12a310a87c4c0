"""The commands that run or set up the streaming side: ``broker``, ``topics``, ``config``, ``worker``,
``replay`` and ``demo``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from pydantic import BaseModel, SecretStr
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from streams.cli.context import settings_of
from streams.core.settings import Settings

console = Console()


def broker(
    ctx: typer.Context,
    port: int = typer.Option(9092, min=1, max=65535, help="Port to listen on (127.0.0.1 only)"),
) -> None:
    """Run the local Tansu broker (in-memory) and create the brandpulse topics; Ctrl-C stops it.

    Example: brandpulse broker
    """
    import signal
    import threading

    from streams.kafka.broker import LocalBroker
    from streams.kafka.topics import create_topics

    # Topics go to the broker started here, whatever BRANDPULSE_KAFKA_URL says.
    settings = settings_of(ctx).model_copy(update={"kafka_url": f"kafka://127.0.0.1:{port}"})
    log_file = settings.state_dir / "tansu.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with LocalBroker("127.0.0.1", port, log_file=log_file) as b:
        created = create_topics(settings)
        console.print(f"[green]Tansu broker on 127.0.0.1:{port}[/] (pid {b.proc.pid if b.proc else '?'}); "
                      f"created topics: {', '.join(created) or 'none (all existed)'}")
        if port != 9092:
            console.print(f"other brandpulse processes reach it with BRANDPULSE_KAFKA_URL=kafka://127.0.0.1:{port}")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    console.print("broker stopped")


def config_cmd(ctx: typer.Context) -> None:
    """Print the effective configuration (env BRANDPULSE_* and CLI options), secrets redacted.

    Example: BRANDPULSE_BATCH_MAX=512 brandpulse config
    """
    from streams.store.open import redact

    settings = settings_of(ctx)
    table = Table(title="brandpulse configuration")
    for col in ("env var", "value", "meaning"):
        table.add_column(col)
    rows = [(f"BRANDPULSE_{name.upper()}", name, info, getattr(settings, name)) for name, info in Settings.model_fields.items()]
    for env, name, info, value in rows:
        if isinstance(value, BaseModel):  # nested settings: one row per field, as they are set
            for sub, sub_info in type(value).model_fields.items():
                sub_value = getattr(value, sub)
                shown = "***" if isinstance(sub_value, SecretStr) else escape(str(sub_value))
                table.add_row(f"{env}__{sub.upper()}", shown, sub_info.description or "")
            continue
        shown = "***" if isinstance(value, SecretStr) else str(value)
        if name == "clickhouse_url" and value:
            shown = redact(value)
        table.add_row(env, shown, info.description or "")
    console.print(table)


def topics_cmd(ctx: typer.Context) -> None:
    """Create any missing brandpulse topics on the configured Kafka broker.

    Example: BRANDPULSE_KAFKA_URL=kafka://kafka:9092 brandpulse topics
    """
    from streams.kafka.topics import create_topics, topic_partitions

    settings = settings_of(ctx)
    created = create_topics(settings)
    for name, n in topic_partitions(settings).items():
        console.print(f"{name:40s} partitions={n} {'(created)' if name in created else ''}")


def worker(
    ctx: typer.Context,
    loglevel: str = typer.Option("info", help="Faust log level"),
    roles: Optional[str] = typer.Option(
        None, help="Comma list of score, store, watch (env BRANDPULSE_ROLES); default all three in this process"
    ),
) -> None:
    """Run the worker (Faust): posts → validate → score → ClickHouse + scored topic → detectors.

    All roles in one process by default; split them to scale out, e.g. N × ``--roles score`` plus one
    ``--roles store`` and one ``--roles watch``, which talk through the scored and dead-letter topics.

    Example: brandpulse worker --roles score
    """
    from streams.core.web_auth import UnsafeBind
    from streams.worker.main import run_worker
    from streams.worker.role_names import parse_roles

    settings = settings_of(ctx)
    if roles is not None:
        settings = settings.model_copy(update={"roles": roles})
    try:
        parse_roles(settings.roles)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--roles / BRANDPULSE_ROLES") from exc
    try:
        run_worker(settings, loglevel=loglevel)
    except UnsafeBind as exc:  # raised while the app is made, before Faust starts anything
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None


def replay(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV/TSV/JSONL file of posts"),
    preset: Optional[str] = typer.Option(None, help="Column mapping of a known corpus: airline"),
    map_: list[str] = typer.Option([], "--map", help="field=column, e.g. --map text=body --map post_id=id"),
    time_format: Optional[str] = typer.Option(None, help="strptime format of created_at, e.g. '%m/%d/%Y %H:%M'"),
    rate: Optional[float] = typer.Option(None, min=0.01, help="Posts per second (default: as fast as possible)"),
    speedup: Optional[float] = typer.Option(None, min=0.01, help="Replay at N× the original pace of created_at"),
    limit: Optional[int] = typer.Option(None, min=1, help="Only the first N rows"),
    rebase_time: bool = typer.Option(False, help="Shift timestamps so the newest post is 'now'"),
    platform: str = typer.Option("replay", help="platform value for rows without one"),
) -> None:
    """Replay a file into the posts topic and print a summary (sent, failed).

    Examples:
      brandpulse replay ../shared/data/airline/tweets.csv --preset airline --rate 500
      brandpulse replay posts.jsonl --map text=body --map post_id=id --speedup 60
    """
    import datetime as dt

    from streams.kafka.replay import PRESET_TIME_FORMATS, PRESETS, read_table, replay as run_replay, rows_to_posts

    if rate and speedup:
        raise typer.BadParameter("use either --rate or --speedup, not both")
    mapping = dict(PRESETS.get(preset or "", {}))
    if preset and preset not in PRESETS:
        raise typer.BadParameter(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    for item in map_:
        field, sep, column = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--map takes field=column, got {item!r}")
        mapping[field.strip()] = column.strip()
    mapping.setdefault("text", "text")
    settings = settings_of(ctx)
    df = read_table(file)
    if limit:
        df = df.head(limit)
    posts = rows_to_posts(
        df, mapping, time_format=time_format or PRESET_TIME_FORMATS.get(preset or ""), platform=platform,
        rebase_to=dt.datetime.now(dt.timezone.utc) if rebase_time else None,
    )
    summary = run_replay(posts, settings=settings, topic=settings.topic("posts"), rate=rate, speedup=speedup)
    console.print(
        f"sent {summary.sent} / read {summary.read}, failed {summary.failed} "
        f"in {summary.seconds:.1f}s ({summary.rate:.0f} posts/s){' errors: ' + json.dumps(summary.errors) if summary.errors else ''}"
    )
    if summary.failed:
        raise typer.Exit(1)


def demo(
    ctx: typer.Context,
    limit: Optional[int] = typer.Option(None, min=1, help="Replay only the first N airline tweets"),
    rate: Optional[float] = typer.Option(None, min=0.01, help="Posts per second (default: as fast as possible)"),
    keep_running: bool = typer.Option(False, help="Keep broker and worker up afterwards for trends queries"),
) -> None:
    """The quick-start main job: broker + chDB + default model + airline replay + drift → retrain → shadow → promotion.

    Exits 1 when its loop failed (the retrain failed or did not run, the trainer stopped or said nothing).

    Example: brandpulse demo --limit 3000
    """
    from streams.services.demo import run_demo

    code = run_demo(settings_of(ctx), limit=limit, rate=rate, keep_running=keep_running)
    if code:
        raise typer.Exit(code)
