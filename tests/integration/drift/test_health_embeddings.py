"""Embedding drift on real tweets with the test model's own encoder: a new domain is told from a crisis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drift.health import domain_auc, mix_weights
from tests.support.drift import domain_tweets


@pytest.fixture(scope="module")
def tweets() -> dict[str, list[str]]:
    return domain_tweets()


def test_embedding_drift_tells_a_new_domain_from_a_crisis_on_real_tweets(
    tweets: dict[str, list[str]], trained_model: Path
) -> None:
    """The general-tweet test model's own encoder, as the worker uses it (models.embeddings)."""
    from models.embeddings import SentenceEmbedder
    from models.scoring.scorer import Scorer

    embed, scorer = SentenceEmbedder(trained_model), Scorer(trained_model)
    g, a, neg = tweets["general"], tweets["airline"], tweets["airline_negative"]

    def auc(ref_texts: list[str], live: list[str]) -> float:
        ref_d = scorer.predict_proba(ref_texts).argmax(axis=1)
        live_d = scorer.predict_proba(live).argmax(axis=1)
        weights = mix_weights(ref_d, live_d, len(scorer.labels))
        return domain_auc(embed(ref_texts), embed(live), linear=True, reference_weights=weights)

    vectors = embed(g[:3])
    assert vectors.shape == (3, embed.dim) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert auc(g[:400], g[400:528]) < 0.65  # same domain, other posts
    assert auc(g[:400], a[:128]) > 0.85  # airline tweets on a general-tweet model's reference
    assert auc(a[:400], neg[-128:]) < 0.65  # a wave of complaints: weighted to its label mix, nothing new
