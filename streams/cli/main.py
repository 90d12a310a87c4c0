"""The ``brandpulse`` command line: the root command makes the one :class:`Settings` of this
invocation (environment, ``.env`` and the options below) and every subcommand works from it."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from pathlib import Path
from typing import Optional

import typer

from streams.cli import erase, models, queries, run, services
from streams.core.settings import Settings


def _root(
    ctx: typer.Context,
    data_dir: Optional[Path] = typer.Option(None, help="State directory (env BRANDPULSE_DATA_DIR, default ./.brandpulse)"),
    kafka_url: Optional[str] = typer.Option(None, help="Kafka broker, e.g. kafka://127.0.0.1:9092 (env BRANDPULSE_KAFKA_URL)"),
    clickhouse_url: Optional[str] = typer.Option(None, help="chdb:///abs/dir or http://user:pass@host:8123 (env BRANDPULSE_CLICKHOUSE_URL)"),
    secrets_dir: Optional[Path] = typer.Option(
        None, exists=True, file_okay=False,
        help="Directory of secret files named like the env vars, lower case, e.g. brandpulse_kafka_security__sasl_password",
    ),
) -> None:
    options = {"data_dir": data_dir, "kafka_url": kafka_url, "clickhouse_url": clickhouse_url}
    given = {k: v for k, v in options.items() if v is not None}
    ctx.obj = Settings(**given, _secrets_dir=secrets_dir)  # options override the environment
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Client libraries narrate every connection at INFO; keep the console for what brandpulse says.
    for noisy in ("kafka", "aiokafka", "httpx", "urllib3", "mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def create_cli() -> typer.Typer:
    """The whole command tree. Groups other packages register under the ``brandpulse.commands`` entry
    point plug in here (the benchmarks add ``bench``), so production code never imports them."""
    cli = typer.Typer(
        help="brandpulse: streaming brand sentiment monitoring (Kafka → Faust → transformer → ClickHouse).",
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,
    )
    cli.callback()(_root)
    cli.command()(run.broker)
    cli.command("config")(run.config_cmd)
    cli.command("topics")(run.topics_cmd)
    cli.command()(run.worker)
    cli.command()(run.replay)
    cli.command()(run.demo)
    for command in (queries.trends, queries.why, queries.share, queries.voices):
        cli.command()(command)
    cli.command("label")(services.label_command)
    cli.command("trainer")(services.trainer_command)
    cli.command("api")(services.api_command)
    cli.command("dashboard")(services.dashboard_command)
    cli.command("erase")(erase.erase_command)
    cli.add_typer(models.create_models_cli(), name="models", help="Train, evaluate, compare, register and promote models.")
    for plugin in entry_points(group="brandpulse.commands"):
        group = plugin.load()()
        cli.add_typer(group, name=plugin.name, help=group.info.help)
    return cli


def main() -> None:
    from streams.kafka.security import KafkaConnectError

    try:
        create_cli()()
    except KafkaConnectError as exc:  # the cause in one line; a traceback would only bury it
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
