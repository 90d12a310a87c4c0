"""The commands that read the store: ``trends``, ``why``, ``share`` and ``voices``.

With embedded chDB they ask the worker's web port (only the worker may open the directory); against a
ClickHouse server, or with no worker running, they query the store themselves.
"""

from __future__ import annotations

from typing import Optional

import httpx
import typer
from rich.console import Console
from rich.table import Table

from streams.cli.context import settings_of
from streams.core.settings import Settings

console = Console()


def ask_worker_or_store(settings: Settings, path: str, params: dict[str, str], direct, body: dict | None = None) -> dict:  # type: ignore[no-untyped-def]
    """A view from the worker's web port when the store is embedded (only the worker may open it),
    else ``direct(store)`` on ClickHouse itself. Bad parameters end in one clear line, never a traceback.

    With a ``body`` the worker is sent a POST of that JSON (a change, such as an erasure), else a GET."""
    from streams.core.web_auth import auth_headers
    from streams.store.open import is_embedded, open_store

    if is_embedded(settings.clickhouse_dsn):
        url = f"http://{settings.web_host}:{settings.web_port}{path}"
        try:
            headers = auth_headers(settings.web_token)
            if body is None:
                resp = httpx.get(url, params=params, headers=headers, timeout=60)
            else:
                resp = httpx.post(url, params=params, json=body, headers=headers, timeout=600)
        except httpx.TransportError:
            pass  # no worker running: the data directory is free to open here
        else:
            if resp.status_code == 401:
                raise typer.BadParameter("the worker answered 401 (unauthorized): set BRANDPULSE_WEB_TOKEN to its token")
            if resp.is_error:
                raise typer.BadParameter(_error_text(resp))
            return resp.json()
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


def fetch_trends(settings: Settings, brand: Optional[str], since: str, bucket: str, until: str) -> dict:
    from streams.views.trends import check_brand, check_bucket, check_until, parse_duration, query_trends

    try:  # the same checks the worker makes, before any request
        brand = check_brand(brand)
        parse_duration(since)
        check_bucket(bucket)
        check_until(until)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return ask_worker_or_store(
        settings, "/trends", {"brand": brand or "", "since": since, "bucket": bucket, "until": until},
        lambda store: query_trends(store, brand=brand, since=since, bucket=bucket, until=until),
    )


def _error_text(resp: httpx.Response) -> str:
    """The worker's error message: its JSON ``error`` field, or the plain body a proxy or aiohttp sent."""
    try:
        return str(resp.json().get("error", resp.text))
    except (ValueError, AttributeError):
        return f"the worker answered {resp.status_code}: {resp.text.strip()[:300] or resp.reason_phrase}"


def trends(
    ctx: typer.Context,
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
    data = fetch_trends(settings_of(ctx), brand, since, bucket, until)
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


def fetch_why(settings: Settings, brand: str, since: str, until: str, baseline: str, focus: Optional[str]) -> dict:
    from streams.views.brand_queries import why_report

    return ask_worker_or_store(
        settings, "/why", {"brand": brand, "since": since, "until": until, "baseline": baseline, "focus": focus or ""},
        lambda store: why_report(store, brand=brand, since=since, until=until, baseline=baseline, focus=focus),
    )


def why(
    ctx: typer.Context,
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
    data = fetch_why(settings_of(ctx), brand, since, until, baseline, focus)
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


def fetch_share(settings: Settings, group: str, since: str, bucket: str, until: str) -> dict:
    from streams.views.brand_queries import share_report
    from streams.core.brand_rules import BrandResolver

    groups = BrandResolver.from_file(settings.brand_rules).groups
    return ask_worker_or_store(
        settings, "/share", {"group": group, "since": since, "bucket": bucket, "until": until},
        lambda store: share_report(store, groups, group=group, since=since, bucket=bucket, until=until),
    )


def share(
    ctx: typer.Context,
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
    data = fetch_share(settings_of(ctx), group, since, bucket, until)
    if as_json:
        console.print_json(data=data)
        return
    # A row per bucket and brand: a group of many brands stays readable in 80 columns or a log file.
    table = Table(title=f"{data['group']}  {data['start'][:16]} → {data['end'][:16]}  (bucket {data['bucket']})")
    for col in ("bucket", "brand", "share of posts", "share of negatives"):
        table.add_column(col, justify="left" if col in ("bucket", "brand") else "right", no_wrap=col == "brand")
    for row in data["buckets"]:
        for i, s in enumerate(row["brands"]):
            table.add_row(row["bucket"][:16] if i == 0 else "", s["brand"], f"{s['share']:.0%}",
                          f"{s['negative_share_of_group']:.0%}", end_section=i == len(row["brands"]) - 1)
    console.print(table)
    if not data["buckets"]:
        console.print("[yellow]no posts in this window[/] (replayed an old corpus? try --until latest)")


def voices(
    ctx: typer.Context,
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
        settings_of(ctx), "/voices", {"brand": brand, "since": since, "bucket": bucket, "until": until},
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
