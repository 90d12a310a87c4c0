"""Active selection for training labels on real airline tweets: uncertain, diverse, brand-balanced, budgeted."""

from __future__ import annotations

import numpy as np
import pytest

from drift.labels.active import ActiveConfig, ActiveSelector, k_center, text_vectors, uncertainty
from tests.support.data import airline_rows
from tests.support.drift import scored


def test_uncertainty_measures_rank_torn_predictions_first() -> None:
    probs = np.array([[0.98, 0.01, 0.01], [0.45, 0.44, 0.11], [0.34, 0.33, 0.33]])
    for measure in ("margin", "entropy"):
        u = uncertainty(probs, measure)  # type: ignore[arg-type]
        assert u[0] < u[1] and u[0] < u[2] and 0 <= u.min() and u.max() <= 1 + 1e-9


def test_k_center_skips_near_duplicates() -> None:
    texts = ["@united where is my bag"] * 5 + ["@delta great crew today", "@southwest flight cancelled again"]
    picks = k_center(text_vectors(texts), 3)
    assert picks[0] == 0 and sorted(picks[1:]) == [5, 6]


def test_budget_brand_balance_and_diversity_on_real_tweets() -> None:
    rows = airline_rows()
    united = [r for r in rows if r["airline"] == "United"][:300]
    others = [r for r in rows if r["airline"] == "Delta"][:30] + [r for r in rows if r["airline"] == "Southwest"][:30]
    # A loud brand with one confusing tweet retweeted 30 times, and two quieter brands.
    batch = [scored(i, "negative", 0.36, brand="United", text=united[0]["text"]) for i in range(30)]
    batch += [scored(100 + i, "negative", 0.5 + 0.4 * i / 300, brand="United", text=r["text"]) for i, r in enumerate(united)]
    batch += [scored(1000 + i, "neutral", 0.7, brand=r["airline"], text=r["text"]) for i, r in enumerate(others)]
    sel = ActiveSelector(ActiveConfig(budget_per_hour=60, burst=9), now=0.0)
    chosen = sel.select(batch, now=0.0)
    assert len(chosen) == 9
    by_brand = {b: sum(p.brand == b for p in chosen) for b in ("United", "Delta", "Southwest")}
    assert by_brand == {"United": 3, "Delta": 3, "Southwest": 3}
    assert sum(p.text == united[0]["text"] for p in chosen) == 1  # the retweet wave costs one label
    assert sel.select(batch, now=1.0) == []  # budget spent
    assert len(sel.select(batch, now=1.0 + 120.0)) == 2  # 60 an hour: two more after two minutes
    assert ActiveSelector(ActiveConfig(budget_per_hour=0)).select(batch, now=0.0) == []


def test_excluded_and_shadow_posts_are_never_chosen() -> None:
    texts = [r["text"] for r in airline_rows()[:15]]
    batch = [scored(i, "neutral", 0.4, text=texts[i]) for i in range(10)]
    batch += [scored(20 + i, "neutral", 0.34, role="shadow", text=texts[10 + i]) for i in range(5)]
    chosen = ActiveSelector(ActiveConfig(burst=20, budget_per_hour=100)).select(batch, 0.0, exclude={"p0", "p1"})
    assert {p.post_id for p in chosen} == {f"p{i}" for i in range(2, 10)}


@pytest.mark.parametrize("bad", [{"budget_per_hour": -1}, {"burst": 0}])
def test_config_is_checked(bad: dict) -> None:
    with pytest.raises(ValueError):
        ActiveConfig(**bad)
