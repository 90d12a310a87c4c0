"""De-duplicating LRU cache in front of any scorer.

Brand streams repeat themselves: retweets, copy-pasted complaints, bot waves. Texts that are equal
after tweet normalisation (retweet prefix dropped, handles masked, links masked, lower-cased,
whitespace collapsed) are scored once; later copies, in the same batch or a later one, reuse the
probabilities of the first copy. The decision rule is applied afterwards, so labels follow the
wrapped scorer's checkpoint exactly.

Sentence vectors are not cached (a vector is ~100× the size of a probability row): a copy scored in
the same call shares its first copy's vector, a copy answered from an earlier call gets a NaN row,
which the model-health sample skips (its first copy was sampled, or not, when it was scored).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from models.checkpoint import CheckpointMeta
from models.data import normalise_tweet
from models.scoring.scorer import MicroBatchScorer
from models.scoring.protocol import SentimentScorer

_RETWEET = re.compile(r"^rt\s+@\w+:?\s*", re.IGNORECASE)


def cache_key(text: str) -> str:
    """The text as the cache sees it: copies of one post (retweets, other handles/links) share a key."""
    return normalise_tweet(_RETWEET.sub("", text.strip())).lower()


@dataclass(frozen=True, slots=True)
class CacheStats:
    requests: int
    hits: int
    misses: int
    entries: int
    evictions: int

    @property
    def hit_rate(self) -> float:
        return self.hits / self.requests if self.requests else 0.0

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "hit_rate": self.hit_rate}


class CachedScorer:
    """Wraps a scorer with the same interface; thread-safe; holds at most ``max_entries`` texts."""

    def __init__(self, scorer: SentimentScorer, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1; got {max_entries}")
        self.scorer = scorer
        self.max_entries = max_entries
        self._entries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._requests = self._hits = self._evictions = 0

    @property
    def meta(self) -> CheckpointMeta:
        return self.scorer.meta

    @property
    def model_dir(self) -> Path:
        return self.scorer.model_dir

    @property
    def version(self) -> str:
        return self.scorer.version

    @property
    def labels(self) -> list[str]:
        return self.scorer.labels

    @property
    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                requests=self._requests,
                hits=self._hits,
                misses=self._requests - self._hits,
                entries=len(self._entries),
                evictions=self._evictions,
            )

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def warm_up(self) -> None:
        self.scorer.warm_up()

    @property
    def vector_dim(self) -> int:
        return self.scorer.vector_dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Sentence vectors of every text, by the wrapped scorer (never from the cache)."""
        return self.scorer.embed(texts)

    def predict_proba_and_vectors(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        keys = [cache_key(t) for t in texts]
        out = np.empty((len(texts), len(self.labels)), dtype=np.float32)
        vectors = np.full((len(texts), self.vector_dim), np.nan, dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            self._requests += len(texts)
            for i, key in enumerate(keys):
                row = self._entries.get(key)
                if row is not None:
                    self._entries.move_to_end(key)
                    out[i] = row
                else:
                    missing.setdefault(key, []).append(i)
            # Only the first copy of each missing key is scored; its in-batch copies count as hits.
            self._hits += len(texts) - len(missing)
        if not missing:
            return out, vectors
        first = [rows[0] for rows in missing.values()]
        scored, fresh = self.scorer.predict_proba_and_vectors([texts[i] for i in first])
        vectors[[i for rows in missing.values() for i in rows]] = np.repeat(fresh, [len(r) for r in missing.values()], axis=0)
        with self._lock:
            for (key, rows), row in zip(missing.items(), scored):
                out[rows] = row
                self._entries[key] = row
                self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
                self._evictions += 1
        return out, vectors

    # Same decision rule and Prediction building as every backend, driven by the cached probs.
    predict_proba = MicroBatchScorer.predict_proba
    score_with_vectors = MicroBatchScorer.score_with_vectors
    score = MicroBatchScorer.score
