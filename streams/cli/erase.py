"""``brandpulse erase``: remove one person's data, every post of an author or one post, when they ask.

The store's part (every table, and an audit row without the erased content) is
:meth:`streams.store.protocol.Store.erase`; queued copies in Kafka are skipped through the erasure
list (:mod:`streams.kafka.erasures`). With embedded chDB the worker does it (only it may open the
directory), asked on its web port; against a ClickHouse server, or with no worker running, this
command does it itself.
"""

from __future__ import annotations

from typing import Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from drift.labels.human import default_annotator
from streams.cli.context import settings_of
from streams.cli.queries import ask_worker_or_store
from streams.core.settings import Settings
from streams.store.protocol import ErasureReport, ErasureRequest, Store

console = Console()


def _request(author: Optional[str], post_id: Optional[str], operator: Optional[str]) -> ErasureRequest:
    if (author is None) == (post_id is None):
        raise typer.BadParameter("give exactly one of --author or --post-id")
    try:
        return ErasureRequest(kind="author" if author is not None else "post", identifier=author or post_id or "",
                              operator=operator or default_annotator())
    except ValidationError as exc:  # without the input: it is the very name to erase
        raise typer.BadParameter("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None


def erase_here(settings: Settings, store: Store, request: ErasureRequest) -> dict:
    """The erasure done by this process (a ClickHouse server, or chDB with no worker running)."""
    from streams.kafka.erasures import publish_erased
    from streams.store.protocol import erase_everywhere

    try:
        report = erase_everywhere(store, request, lambda ids: publish_erased(settings, ids))
    except Exception as exc:  # noqa: BLE001 - Kafka or ClickHouse unavailable: one line, and what to do
        raise typer.BadParameter(f"the erasure did not finish ({type(exc).__name__}: {exc}); "
                                 "run it again (erasing twice is safe)") from None
    return report.model_dump(mode="json")


def erase_command(
    ctx: typer.Context,
    author: Optional[str] = typer.Option(None, "--author", help="Erase every post of this author (compared without @, case-insensitive)"),
    post_id: Optional[str] = typer.Option(None, "--post-id", help="Erase this one post"),
    operator: Optional[str] = typer.Option(None, help="Who asked, for the audit record, e.g. 'alice, ticket DSR-42' (default: your login name)"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
) -> None:
    """Erase a person's data from every table and from the label queue, and record it in the audit table.

    Safe to run twice: the second run finds nothing and reports 0. The audit keeps who asked, when,
    the kind and a SHA-256 of the identifier, never the identifier or what was erased.

    Examples:
      brandpulse erase --author @jdoe --operator "alice, ticket DSR-42"
      brandpulse erase --post-id 570306133677760513
    """
    request = _request(author, post_id, operator)
    settings = settings_of(ctx)
    data = ask_worker_or_store(settings, "/erase", {}, lambda store: erase_here(settings, store, request),
                               body=request.model_dump(mode="json"))
    report = ErasureReport.model_validate(data)
    if as_json:
        console.print_json(data=report.model_dump(mode="json"))
    else:
        table = Table(title=f"erasure {report.erasure_id} ({report.kind}, sha256 {report.identifier_sha256[:12]}…)",
                      caption="alerts: scrubbed of the posts and @handle; brand_minute: minutes counted again without the posts")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, n in report.rows.items():
            table.add_row(name, str(n))
        table.add_row("erasure list (Kafka)", str(report.erasure_list))
        console.print(table)
        console.print(f"{sum(report.rows.values())} rows removed; {report.erasure_list} post ids put on the erasure list"
                      + ("" if report.total else " (nothing left to erase)"))
    if report.unhandled:
        console.print(f"[red]tables erasure does not know, not searched:[/] {', '.join(report.unhandled)}")
        raise typer.Exit(1)
