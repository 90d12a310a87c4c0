"""The ``brandpulse`` command line."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table



def _flags_without_type_label() -> None:
    """Typer's rich help prints a type for every option, so plain flags (and --help) read ``<bool>``.

    A flag takes no value; showing one misleads. Options with a value keep their type.
    """
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx) -> str | None:  # type: ignore[no-untyped-def]
        return None if self.is_flag else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_without_type_label()
console = Console()
app = typer.Typer(
    help="brandpulse: streaming brand sentiment monitoring (Kafka → Faust → transformer → ClickHouse).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _settings():  # type: ignore[no-untyped-def]
    from streams.settings import get_settings

    return get_settings()


@app.callback()
def main_options(
    data_dir: Optional[Path] = typer.Option(None, help="State directory (env BRANDPULSE_DATA_DIR, default ./.brandpulse)"),
    kafka_url: Optional[str] = typer.Option(None, help="Kafka broker, e.g. kafka://127.0.0.1:9092 (env BRANDPULSE_KAFKA_URL)"),
    clickhouse_url: Optional[str] = typer.Option(None, help="chdb:///abs/dir or http://user:pass@host:8123 (env BRANDPULSE_CLICKHOUSE_URL)"),
) -> None:
    # CLI options override the environment; child processes (the worker) inherit them this way too.
    for name, value in (("DATA_DIR", data_dir), ("KAFKA_URL", kafka_url), ("CLICKHOUSE_URL", clickhouse_url)):
        if value is not None:
            os.environ[f"BRANDPULSE_{name}"] = str(value)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Client libraries narrate every connection at INFO; keep the console for what brandpulse says.
    for noisy in ("kafka", "aiokafka", "httpx", "urllib3", "mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.command()
def broker(
    port: int = typer.Option(9092, min=1, max=65535, help="Port to listen on (127.0.0.1 only)"),
) -> None:
    """Run the local Tansu broker (in-memory) and create the brandpulse topics; Ctrl-C stops it.

    Example: brandpulse broker
    """
    import signal
    import threading

    from streams.broker import LocalBroker
    from streams.topics import create_topics

    # Topics go to the broker started here, whatever BRANDPULSE_KAFKA_URL says.
    settings = _settings().model_copy(update={"kafka_url": f"kafka://127.0.0.1:{port}"})
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


@app.command("config")
def config_cmd() -> None:
    """Print the effective configuration (env BRANDPULSE_* and CLI options), secrets redacted.

    Example: BRANDPULSE_BATCH_MAX=512 brandpulse config
    """
    from streams.clickhouse import redact
    from streams.settings import Settings

    settings = _settings()
    table = Table(title="brandpulse configuration")
    for col in ("env var", "value", "meaning"):
        table.add_column(col)
    for name, info in Settings.model_fields.items():
        value = getattr(settings, name)
        shown = "***" if "secret" in type(value).__name__.lower() and value else str(value)
        if name == "clickhouse_url" and value:
            shown = redact(value)
        table.add_row(f"BRANDPULSE_{name.upper()}", shown, info.description or "")
    console.print(table)


@app.command("topics")
def topics_cmd() -> None:
    """Create any missing brandpulse topics on the configured Kafka broker.

    Example: BRANDPULSE_KAFKA_URL=kafka://kafka:9092 brandpulse topics
    """
    from streams.topics import create_topics, topic_partitions

    settings = _settings()
    created = create_topics(settings)
    for name, n in topic_partitions(settings).items():
        console.print(f"{name:40s} partitions={n} {'(created)' if name in created else ''}")


@app.command()
def worker(loglevel: str = typer.Option("info", help="Faust log level")) -> None:
    """Run the scoring worker (Faust): posts → validate → score → ClickHouse + scored topic.

    Example: brandpulse worker
    """
    from streams.worker import app as faust_app

    sys.argv = ["brandpulse-worker", "worker", "-l", loglevel]
    faust_app.main()


@app.command()
def replay(
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

    from streams.replay import PRESET_TIME_FORMATS, PRESETS, read_table, replay as run_replay, rows_to_posts

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
    settings = _settings()
    df = read_table(file)
    if limit:
        df = df.head(limit)
    posts = rows_to_posts(
        df, mapping, time_format=time_format or PRESET_TIME_FORMATS.get(preset or ""), platform=platform,
        rebase_to=dt.datetime.now(dt.timezone.utc) if rebase_time else None,
    )
    summary = run_replay(posts, bootstrap=settings.kafka_bootstrap, topic=settings.topic("posts"), rate=rate, speedup=speedup)
    console.print(
        f"sent {summary.sent} / read {summary.read}, failed {summary.failed} "
        f"in {summary.seconds:.1f}s ({summary.rate:.0f} posts/s){' errors: ' + json.dumps(summary.errors) if summary.errors else ''}"
    )
    if summary.failed:
        raise typer.Exit(1)


@app.command()
def demo(
    limit: Optional[int] = typer.Option(None, min=1, help="Replay only the first N airline tweets"),
    rate: Optional[float] = typer.Option(None, min=0.01, help="Posts per second (default: as fast as possible)"),
    keep_running: bool = typer.Option(False, help="Keep broker and worker up afterwards for trends queries"),
) -> None:
    """The quick-start main job: broker + chDB + default model + airline replay + drift → retrain → shadow → promotion.

    Example: brandpulse demo --limit 3000
    """
    from streams.demo import run_demo

    run_demo(_settings(), limit=limit, rate=rate, keep_running=keep_running)


def fetch_trends(brand: Optional[str], since: str, bucket: str, until: str) -> dict:
    """From the worker's web port when the store is embedded (only the worker may open it), else directly."""
    import urllib.error
    import urllib.parse
    import urllib.request

    from streams.clickhouse import ClickHouseStore
    from streams.trends import check_brand, check_bucket, check_until, parse_duration, query_trends

    try:  # the same checks the worker makes, before any request: a clear message, never a traceback
        brand = check_brand(brand)
        parse_duration(since)
        check_bucket(bucket)
        check_until(until)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    settings = _settings()
    if settings.clickhouse_dsn.startswith("chdb://"):
        qs = urllib.parse.urlencode({"brand": brand or "", "since": since, "bucket": bucket, "until": until})
        url = f"http://{settings.web_host}:{settings.web_port}/trends?{qs}"
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise typer.BadParameter(_error_text(exc)) from None
        except urllib.error.URLError:
            pass  # no worker running: the data directory is free to open here
    store = ClickHouseStore(settings.clickhouse_dsn, settings.clickhouse_database)
    try:
        return query_trends(store, brand=brand, since=since, bucket=bucket, until=until)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    finally:
        store.close()


def _error_text(exc) -> str:  # type: ignore[no-untyped-def]
    """The worker's error message: its JSON ``error`` field, or the plain body a proxy or aiohttp sent."""
    body = exc.read().decode("utf-8", "replace")
    try:
        return str(json.loads(body).get("error", body))
    except (ValueError, AttributeError):
        return f"the worker answered {exc.code}: {body.strip()[:300] or exc.reason}"


@app.command()
def trends(
    brand: Optional[str] = typer.Option(None, help="Brand (default: all brands together)"),
    since: str = typer.Option("6h", help="Window length, e.g. 90m, 6h, 7d"),
    bucket: str = typer.Option("15m", help="Bucket width (whole minutes), e.g. 1m, 15m, 1h"),
    until: str = typer.Option("now", help="Window end: now, latest (newest data) or an ISO time"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table"),
) -> None:
    """Sentiment trend per time bucket: posts, negative share, mean confidence.

    Examples:
      brandpulse trends --brand United --since 6h --bucket 15m
      brandpulse trends --brand United --since 7d --bucket 1h --until latest
    """
    data = fetch_trends(brand, since, bucket, until)
    if as_json:
        console.print_json(data=data)
        return
    table = Table(title=f"{data['brand']}  {data['start'][:16]} → {data['end'][:16]}  (bucket {data['bucket']})")
    for col in ("bucket", "posts", "negative", "neutral", "positive", "neg share", "mean conf"):
        table.add_column(col, justify="right" if col != "bucket" else "left")
    for b in data["buckets"]:
        table.add_row(b["bucket"][:16], str(b["posts"]), str(b["negative"]), str(b["neutral"]), str(b["positive"]),
                      f"{b['negative_share']:.1%}", f"{b['mean_confidence']:.3f}")
    console.print(table)
    if not data["buckets"] and until != "latest":
        console.print("[yellow]no posts in this window[/] (replayed an old corpus? try --until latest)")
    elif not data["buckets"]:
        console.print("[yellow]no posts in this window[/]")


def _mount_other_packages() -> None:
    """Commands whose code lives with the part of the system they operate."""
    from drift.labelling import label_command
    from drift.trainer import trainer_command
    from models.bench import bench_app
    from models.cli import app as models_app
    from streams.api import api_command
    from streams.bench import pipeline_command
    from streams.loop_bench import loop_command
    from streams.dashboard import dashboard_command

    app.add_typer(models_app, name="models", help="Train, evaluate, compare, register and promote models.")
    bench_app.command("pipeline")(pipeline_command)
    bench_app.command("loop")(loop_command)
    app.add_typer(bench_app, name="bench", help="Benchmark the scoring paths and the pipeline on real tweets.")
    app.command("label")(label_command)
    app.command("trainer")(trainer_command)
    app.command("api")(api_command)
    app.command("dashboard")(dashboard_command)


_mount_other_packages()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
