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
    from streams.core.settings import get_settings

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

    from streams.kafka.broker import LocalBroker
    from streams.kafka.topics import create_topics

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
    from streams.store.clickhouse import redact
    from streams.core.settings import Settings

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
    from streams.kafka.topics import create_topics, topic_partitions

    settings = _settings()
    created = create_topics(settings)
    for name, n in topic_partitions(settings).items():
        console.print(f"{name:40s} partitions={n} {'(created)' if name in created else ''}")


@app.command()
def worker(
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
    from streams.worker.role_names import parse_roles
    from streams.core.settings import get_settings

    try:
        parse_roles(roles if roles is not None else get_settings().roles)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--roles / BRANDPULSE_ROLES") from exc
    if roles is not None:
        os.environ["BRANDPULSE_ROLES"] = roles
        get_settings.cache_clear()  # the app reads its settings once, at import: make it see the roles
    from streams.worker.main import app as faust_app

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
    from streams.services.demo import run_demo

    run_demo(_settings(), limit=limit, rate=rate, keep_running=keep_running)


def ask_worker_or_store(path: str, params: dict[str, str], direct) -> dict:  # type: ignore[no-untyped-def]
    """A view from the worker's web port when the store is embedded (only the worker may open it),
    else ``direct(store)`` on ClickHouse itself. Bad parameters end in one clear line, never a traceback."""
    import urllib.error
    import urllib.parse
    import urllib.request

    from streams.store.open import is_embedded, open_store

    settings = _settings()
    if is_embedded(settings.clickhouse_dsn):
        url = f"http://{settings.web_host}:{settings.web_port}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=60) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise typer.BadParameter(_error_text(exc)) from None
        except urllib.error.URLError:
            pass  # no worker running: the data directory is free to open here
    try:
        store = open_store(settings.clickhouse_dsn, settings.clickhouse_database)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        return direct(store)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    finally:
        store.close()


def fetch_trends(brand: Optional[str], since: str, bucket: str, until: str) -> dict:
    from streams.views.trends import check_brand, check_bucket, check_until, parse_duration, query_trends

    try:  # the same checks the worker makes, before any request
        brand = check_brand(brand)
        parse_duration(since)
        check_bucket(bucket)
        check_until(until)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return ask_worker_or_store(
        "/trends", {"brand": brand or "", "since": since, "bucket": bucket, "until": until},
        lambda store: query_trends(store, brand=brand, since=since, bucket=bucket, until=until),
    )


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
    table = Table(title=f"{data['brand']}  {data['start'][:16]} → {data['end'][:16]}  (bucket {data['bucket']})",
                  caption="counts: posts by the label the model gave (negative flagged for recall); neg share: expected share, mean calibrated p(negative)")
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


def fetch_why(brand: str, since: str, until: str, baseline: str, focus: Optional[str]) -> dict:
    from streams.views.brand_queries import why_report

    return ask_worker_or_store(
        "/why", {"brand": brand, "since": since, "until": until, "baseline": baseline, "focus": focus or ""},
        lambda store: why_report(store, brand=brand, since=since, until=until, baseline=baseline, focus=focus),
    )


@app.command()
def why(
    brand: str = typer.Option(..., help="Brand, e.g. United"),
    since: str = typer.Option("1h", help="Window length, e.g. 15m, 1h, 1d"),
    until: str = typer.Option("now", help="Window end: now, latest (newest data) or an ISO time"),
    baseline: str = typer.Option("12h", help="Compared with this long before the window"),
    focus: Optional[str] = typer.Option(None, help="Narrow the terms to one sentiment: negative, neutral, positive"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text"),
) -> None:
    """What a brand's posts are about right now: distinctive terms, hashtags, @handles, reposts, typical posts.

    Examples:
      brandpulse why --brand United --since 1h
      brandpulse why --brand United --since 1h --until latest --focus negative
    """
    data = fetch_why(brand, since, until, baseline, focus)
    if as_json:
        console.print_json(data=data)
        return
    console.print(f"[bold]{data['brand']}[/]  {data['start'][:16]} → {data['end'][:16]}  vs {data['baseline_start'][:16]} →")
    if not data["posts"]:
        console.print("[yellow]no posts in this window[/] (replayed an old corpus? try --until latest)")
        return
    mix = data["sentiment"]
    console.print(f"{data['posts']:,} posts, {data['voices']:,} distinct texts, {data['authors']:,} authors, reposts {data['repost_share']:.0%}; "
                  f"negative {mix['negative']:.0%} (baseline {data['baseline_sentiment']['negative']:.0%} of {data['baseline_posts']:,})")
    for key in ("terms", "hashtags", "handles"):
        if data[key]:
            console.print(f"[bold]{key}[/]: " + ", ".join(f"{t['token']} (z={t['z']:.1f}, {t['window']}×)" for t in data[key]))
    for ex in data["examples"]:
        console.print(f"  • [{ex['label']} {ex['confidence']:.2f}, {ex['reason']}] {ex['text'][:200]}")
    for a in data["alerts"]:
        console.print(f"[red]alert[/] {a['detected_at'][:16]} {a['kind']}: {a['message'][:200]}")


def fetch_share(group: str, since: str, bucket: str, until: str) -> dict:
    from streams.views.brand_queries import share_report
    from streams.core.brands import BrandResolver

    groups = BrandResolver.from_file(_settings().brand_rules).groups
    return ask_worker_or_store(
        "/share", {"group": group, "since": since, "bucket": bucket, "until": until},
        lambda store: share_report(store, groups, group=group, since=since, bucket=bucket, until=until),
    )


@app.command()
def share(
    group: str = typer.Option("US airlines", help="Brand group from the brand rules"),
    since: str = typer.Option("1d", help="Window length, e.g. 6h, 1d, 7d"),
    bucket: str = typer.Option("1h", help="Bucket width (whole minutes), e.g. 15m, 1h, 1d"),
    until: str = typer.Option("now", help="Window end: now, latest (newest data) or an ISO time"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table"),
) -> None:
    """Share of voice: each brand's share of its group's mentions and of its negative mentions.

    Examples:
      brandpulse share --group "US airlines" --since 1d --bucket 6h --until latest
    """
    data = fetch_share(group, since, bucket, until)
    if as_json:
        console.print_json(data=data)
        return
    table = Table(title=f"{data['group']}  {data['start'][:16]} → {data['end'][:16]}  (bucket {data['bucket']}; share of posts / of negatives)")
    table.add_column("bucket")
    for b in data["brands"]:
        table.add_column(b, justify="right")
    for row in data["buckets"]:
        table.add_row(row["bucket"][:16], *[f"{s['share']:.0%} / {s['negative_share_of_group']:.0%}" for s in row["brands"]])
    console.print(table)
    if not data["buckets"]:
        console.print("[yellow]no posts in this window[/] (replayed an old corpus? try --until latest)")


@app.command()
def voices(
    brand: str = typer.Option(..., help="Brand, e.g. United"),
    since: str = typer.Option("1d", help="Window length, e.g. 6h, 1d, 7d"),
    bucket: str = typer.Option("1h", help="Bucket width (whole minutes)"),
    until: str = typer.Option("now", help="Window end: now, latest (newest data) or an ISO time"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table"),
) -> None:
    """Raw mentions next to distinct texts (retweets and copy-paste count once), distinct authors, languages.

    Example: brandpulse voices --brand United --since 7d --bucket 1d --until latest
    """
    from streams.views.brand_queries import voices_report

    data = ask_worker_or_store(
        "/voices", {"brand": brand, "since": since, "bucket": bucket, "until": until},
        lambda store: voices_report(store, brand=brand, since=since, bucket=bucket, until=until),
    )
    if as_json:
        console.print_json(data=data)
        return
    table = Table(title=f"{data['brand']}  {data['start'][:16]} → {data['end'][:16]}  (bucket {data['bucket']})",
                  caption="counts: posts by the label the model gave (negative flagged for recall); neg share: expected share, mean calibrated p(negative)")
    for col in ("bucket", "posts", "distinct texts", "authors", "negative", "languages"):
        table.add_column(col, justify="left" if col in ("bucket", "languages") else "right")
    for b in data["buckets"]:
        langs = ", ".join(f"{k} {v / b['posts']:.0%}" for k, v in list(b["languages"].items())[:3])
        table.add_row(b["bucket"][:16], str(b["posts"]), str(b["distinct_texts"]), str(b["authors"]), str(b["negative"]), langs)
    console.print(table)


def _mount_other_packages() -> None:
    """Subcommands defined with the processes they run, and the groups other packages plug in.

    ``brandpulse.commands`` entry points add a Typer group each (the benchmarks add ``bench``), so
    the production code never imports them; the CLI is an edge: models and drift define none.
    """
    from importlib.metadata import entry_points

    from streams.cli.models import app as models_app
    from streams.services.api import api_command
    from streams.services.dashboard import dashboard_command
    from streams.services.labeller import label_command
    from streams.services.trainer import trainer_command

    app.add_typer(models_app, name="models", help="Train, evaluate, compare, register and promote models.")
    app.command("label")(label_command)
    app.command("trainer")(trainer_command)
    app.command("api")(api_command)
    app.command("dashboard")(dashboard_command)
    for plugin in entry_points(group="brandpulse.commands"):
        group = plugin.load()
        app.add_typer(group, name=plugin.name, help=group.info.help)


_mount_other_packages()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
