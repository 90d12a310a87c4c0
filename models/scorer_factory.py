"""One place that turns a checkpoint directory into a scorer for the configured backend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol, get_args

import numpy as np

from models.checkpoint import CheckpointMeta
from models.scorer import Prediction

Backend = Literal["torch", "torch-bf16", "onnx-int8", "onnx-fp32"]


class SentimentScorer(Protocol):
    """What every backend (and the cache wrapping one) offers."""

    meta: CheckpointMeta

    @property
    def version(self) -> str: ...
    @property
    def labels(self) -> list[str]: ...
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...
    def score(self, texts: Sequence[str]) -> list[Prediction]: ...


def make_scorer(
    model_dir: str | Path,
    backend: Backend = "torch",
    *,
    batch_size: int = 64,
    max_length: int | None = None,
    threads: int | None = None,
    cache_entries: int = 0,
) -> SentimentScorer:
    """A scorer for ``model_dir``: PyTorch (fp32 or bf16), or ONNX Runtime (int8 or fp32; exported on first use).

    ``cache_entries > 0`` wraps it in a de-duplicating :class:`models.cache.CachedScorer`.
    """
    if backend not in get_args(Backend):
        raise ValueError(f"unknown scoring backend {backend!r}; choose one of {list(get_args(Backend))}")
    scorer: SentimentScorer
    if backend in ("torch", "torch-bf16"):
        from models.scorer import Scorer

        dtype = "bfloat16" if backend == "torch-bf16" else "float32"
        scorer = Scorer(model_dir, batch_size=batch_size, max_length=max_length, threads=threads, dtype=dtype)
    else:
        from models.onnx_backend import OnnxScorer

        precision = "int8" if backend == "onnx-int8" else "fp32"
        scorer = OnnxScorer(model_dir, precision=precision, batch_size=batch_size, max_length=max_length, threads=threads)
    if cache_entries > 0:
        from models.cache import CachedScorer

        scorer = CachedScorer(scorer, max_entries=cache_entries)
    return scorer
