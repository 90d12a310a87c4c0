"""What every scoring backend offers, as a protocol: the factory builds them, the cache wraps one.

Its own module so :mod:`models.scoring.cache` (which wraps any scorer) and :mod:`models.scoring.factory`
(which may wrap a scorer in the cache) both import it without importing each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from models.checkpoint import CheckpointMeta
from models.scoring.scorer import Prediction, ScoreResult


class SentimentScorer(Protocol):
    """What every backend (and the cache wrapping one) offers."""

    meta: CheckpointMeta
    model_dir: Path

    @property
    def version(self) -> str: ...
    @property
    def labels(self) -> list[str]: ...
    @property
    def vector_dim(self) -> int: ...
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...
    def predict_proba_and_vectors(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]: ...
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...
    def score(self, texts: Sequence[str]) -> list[Prediction]: ...
    def score_with_vectors(self, texts: Sequence[str]) -> ScoreResult: ...
    def warm_up(self) -> None: ...
