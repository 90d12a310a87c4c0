"""Sentence-vector drift on real tweets with the test model's own vectors, from the forward pass that
scored the posts: a new domain is told from a crisis, by the cross-validated test and the cheap one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drift.domain_tests import LinearDomainTest
from drift.health import domain_auc, mix_weights
from tests.support.drift import domain_tweets


@pytest.fixture(scope="module")
def tweets() -> dict[str, list[str]]:
    return domain_tweets()


@pytest.fixture(scope="module")
def model_vectors(tweets: dict[str, list[str]], trained_model: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Decided labels and sentence vectors from one forward pass of the test model, as the worker gets them."""
    from models.scoring.scorer import Scorer

    scorer = Scorer(trained_model)
    texts = {"general": tweets["general"][:528], "airline": tweets["airline"][:528],
             "airline_negative": tweets["airline_negative"][-128:]}
    out = {}
    for name, t in texts.items():
        probs, vectors = scorer.predict_proba_and_vectors(t)
        out[name] = (probs.argmax(axis=1), vectors)
    return out


def _vector_auc(ref: tuple[np.ndarray, np.ndarray], live: tuple[np.ndarray, np.ndarray], cheap: bool) -> float:
    weights = mix_weights(ref[0], live[0], 3)
    if cheap:
        return LinearDomainTest.prepare(ref[1]).auc(live[1], reference_weights=weights)
    return domain_auc(ref[1], live[1], linear=True, reference_weights=weights)


@pytest.mark.parametrize("cheap", [False, True], ids=["cross-validated", "linear"])
def test_embedding_drift_tells_a_new_domain_from_a_crisis_on_real_tweets(
    model_vectors: dict[str, tuple[np.ndarray, np.ndarray]], cheap: bool
) -> None:
    """The test model's own sentence vectors, from the forward pass that scored the posts."""
    g, a, neg = model_vectors["general"], model_vectors["airline"], model_vectors["airline_negative"]
    head = lambda x, s: (x[0][s], x[1][s])  # noqa: E731
    assert _vector_auc(head(g, slice(0, 400)), head(g, slice(400, 528)), cheap) < 0.65  # same domain, other posts
    assert _vector_auc(head(g, slice(0, 400)), head(a, slice(0, 128)), cheap) > 0.85  # airline tweets, general model
    # A wave of complaints: weighted to its label mix, nothing new.
    assert _vector_auc(head(a, slice(128, 528)), neg, cheap) < 0.65
