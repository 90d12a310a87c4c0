"""Active selection of posts for *training* labels: uncertain, diverse, balanced across brands, on a budget.

The flyback sample (:mod:`drift.labels.flyback`) stays the unbiased evaluation sample; this module chooses
the extra posts that teach a retrained model most per label a person gives:

- **uncertainty**: the margin between the two most probable classes (small margin = the model is
  torn; ``entropy`` of the calibrated probabilities is the alternative);
- **diversity**: among the most uncertain posts (``pool_factor`` candidates per slot), greedy
  k-center (farthest-first) on hashed word/bigram TF vectors, so ten near-identical retweets of one
  confusing post cost one label, not ten. Lexical, not the encoder's embeddings: the scorer does not
  expose them and this costs microseconds;
- **brand balance**: slots go round-robin to the brands that have had the fewest requests so far,
  so a loud brand does not take the whole budget;
- **budget**: a token bucket of ``budget_per_hour`` labels (at most ``burst`` at once) per worker.

Pure: the caller passes the batch and the clock. Labels chosen here are biased by construction; they
go to training only — promotion and live performance use the random sample.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from drift.records import ScoredPost




class ActiveConfig(BaseModel):
    budget_per_hour: float = Field(default=120.0, ge=0, description="Training labels requested per hour (per worker)")
    burst: int = Field(default=20, ge=1, description="Most requests one batch can take")
    pool_factor: int = Field(default=5, ge=1, description="Most-uncertain candidates considered per slot")
    measure: Literal["margin", "entropy"] = "margin"


def uncertainty(probs: np.ndarray, measure: Literal["margin", "entropy"] = "margin") -> np.ndarray:
    """Higher = less sure: 1 − (p₁ − p₂), or entropy normalised to [0, 1]."""
    if measure == "margin":
        top = np.sort(probs, axis=1)[:, ::-1]
        return 1.0 - (top[:, 0] - top[:, 1])
    p = np.clip(probs, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1) / np.log(probs.shape[1])


def text_vectors(texts: Sequence[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import HashingVectorizer

    vec = HashingVectorizer(n_features=2**12, ngram_range=(1, 2), alternate_sign=False, norm="l2", lowercase=True)
    return vec.transform(list(texts)).toarray()


def k_center(vectors: np.ndarray, k: int, first: int = 0) -> list[int]:
    """Greedy farthest-first traversal from row ``first``: k rows that cover the set."""
    if len(vectors) == 0 or k <= 0:
        return []
    chosen = [first]
    dist = np.linalg.norm(vectors - vectors[first], axis=1)
    while len(chosen) < min(k, len(vectors)):
        nxt = int(np.argmax(dist))
        if dist[nxt] <= 0:
            break  # only duplicates left
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(vectors - vectors[nxt], axis=1))
    return chosen


class ActiveSelector:
    def __init__(self, config: ActiveConfig | None = None, now: float = 0.0) -> None:
        self.config = config or ActiveConfig()
        self.tokens = float(min(self.config.burst, self.config.budget_per_hour))
        self._last = now
        self.per_brand: dict[str, int] = {}

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._last)
        self._last = now
        self.tokens = min(float(self.config.burst), self.tokens + self.config.budget_per_hour * elapsed / 3600.0)

    def select(self, batch: Sequence[ScoredPost], now: float, exclude: Collection[str] = ()) -> list[ScoredPost]:
        """The batch's posts worth a training label now (champion verdicts only, none of ``exclude``)."""
        self._refill(now)
        slots = int(self.tokens)
        if slots == 0:
            return []
        seen: set[str] = set(exclude)
        posts: list[ScoredPost] = []
        for p in batch:
            if p.model_role == "champion" and p.post_id not in seen and p.probs:
                seen.add(p.post_id)
                posts.append(p)
        if not posts:
            return []
        labels = sorted(posts[0].probs)
        score = uncertainty(np.array([[p.probs.get(lab, 0.0) for lab in labels] for p in posts]), self.config.measure)
        by_brand: dict[str, list[int]] = {}
        texts: set[str] = set()
        for i in np.argsort(-score, kind="stable"):
            key = " ".join(posts[i].text.lower().split())
            if key not in texts:  # a retweet wave is one candidate
                texts.add(key)
                by_brand.setdefault(posts[i].brand, []).append(int(i))
        quota = self._quota(by_brand, slots)
        chosen: list[ScoredPost] = []
        for brand, n in quota.items():
            pool = by_brand[brand][: n * self.config.pool_factor]
            picks = k_center(text_vectors([posts[i].text for i in pool]), n)  # starts at the most uncertain
            chosen += [posts[pool[j]] for j in picks]
            self.per_brand[brand] = self.per_brand.get(brand, 0) + len(picks)
        self.tokens -= len(chosen)
        return chosen

    def _quota(self, by_brand: dict[str, list[int]], slots: int) -> dict[str, int]:
        """Round-robin over brands, fewest requests so far first, each up to its candidates."""
        order = sorted(by_brand, key=lambda b: (self.per_brand.get(b, 0), b))
        quota = dict.fromkeys(order, 0)
        while slots > 0:
            progressed = False
            for brand in order:
                if slots > 0 and quota[brand] < len(by_brand[brand]):
                    quota[brand] += 1
                    slots -= 1
                    progressed = True
            if not progressed:
                break
        return {b: n for b, n in quota.items() if n}
