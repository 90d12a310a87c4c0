"""Knowledge distillation: a large fine-tuned teacher (e.g. all-mpnet-base-v2) teaches the MiniLM student.

The student trains on the same labelled texts as usual, with the loss mixing the (class-weighted)
cross-entropy on the human labels and the KL divergence from the teacher's temperature-softened
distribution (Hinton et al., 2015)::

    loss = (1 − α) · CE(y, s) + α · T² · KL(softmax(t / T) ‖ softmax(s / T))

The soft targets carry what the hard labels cannot — that a sarcastic complaint is "mostly negative,
a bit neutral" — and T² keeps their gradients on the scale of the hard ones whatever T is. Everything
after training (calibration, threshold tuning, drift references) is :func:`models.train.fine_tune`'s,
so a distilled checkpoint serves, registers and is promoted like any other; only
``CheckpointMeta.distilled_from`` records where its soft targets came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.checkpoint import read_meta, write_meta
from models.data import DataError, LabelledData, normalise_tweet
from models.train import TrainConfig, TrainResult, fine_tune, predict_logits


class TeacherLogits:
    """Callable ``texts → logits`` of a teacher checkpoint, columns in the student's label order.

    Raw logits (before the teacher's calibration temperature): the distillation temperature does the
    softening. Each distinct text is scored once, so oversampled or duplicated rows cost nothing extra.
    """

    def __init__(
        self, teacher_dir: str | Path, labels: Sequence[str], *, batch_size: int = 64, threads: int | None = None,
        bf16: bool = False,
    ) -> None:
        self.teacher_dir = Path(teacher_dir)
        self.meta = read_meta(self.teacher_dir)
        if set(self.meta.labels) != set(labels):
            raise DataError(f"teacher {self.meta.version} predicts {self.meta.labels}; the training data has {list(labels)}")
        self.columns = [self.meta.labels.index(label) for label in labels]
        self.batch_size = batch_size
        self.threads = threads
        self.bf16 = bf16

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        if self.threads:
            torch.set_num_threads(self.threads)
        tokenizer = AutoTokenizer.from_pretrained(self.teacher_dir)
        model = AutoModelForSequenceClassification.from_pretrained(self.teacher_dir)
        if torch.cuda.is_available():
            model = model.to("cuda")
        prepare = normalise_tweet if self.meta.normalise_input else (lambda t: t)
        unique = list(dict.fromkeys(texts))
        logits = predict_logits(model, tokenizer, [prepare(t) for t in unique], self.meta.max_length, self.batch_size, bf16=self.bf16)
        del model  # the teacher is 5x the student: free it before the student trains
        row = {text: i for i, text in enumerate(unique)}
        return logits[[row[t] for t in texts]][:, self.columns]


def distill(
    train: LabelledData,
    teacher_dir: str | Path,
    out_dir: Path,
    config: TrainConfig,
    valid: LabelledData | None = None,
    progress: bool = True,
    *,
    cache_dir: Path,
) -> TrainResult:
    """Fine-tune ``config.base_model`` on ``train`` with ``teacher_dir``'s soft targets; writes a checkpoint.

    Give the student the teacher's training data (same split and seed): then its validation split is
    one the teacher never trained on either, and the held-out metrics stay honest.
    """
    teacher = TeacherLogits(teacher_dir, train.label_names, threads=config.threads)
    result = fine_tune(train, out_dir, config, valid=valid, progress=progress, cache_dir=cache_dir, teacher=teacher)
    record_distillation(result, out_dir, config, source=teacher.meta.version or str(teacher_dir),
                        teacher=teacher.meta.base_model or teacher.meta.version)
    return result


def record_distillation(result: TrainResult, out_dir: Path, config: TrainConfig, *, source: str, teacher: str) -> None:
    """Write into the checkpoint (and ``result``) that its soft targets came from ``source`` (``teacher``'s)."""
    result.meta = result.meta.model_copy(update={
        "distilled_from": source,
        "trained_on": f"{result.meta.trained_on}; distilled from {teacher} (alpha {config.kd_alpha}, T {config.kd_temperature})",
    })
    write_meta(out_dir, result.meta)
