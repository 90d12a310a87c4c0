"""One place that turns a checkpoint directory into a scorer for the configured backend."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from models.scoring.protocol import SentimentScorer

__all__ = ["DEFAULT_BATCH_SIZE", "Backend", "SentimentScorer", "make_scorer"]

Backend = Literal["torch", "torch-bf16", "onnx-int8", "onnx-fp32", "openvino", "openvino-int8"]

# Micro-batch size per backend when nobody chose one (the auto selection times 16 and 64 instead).
# Measured on 2 cores with tweets: fp32 and ONNX pad less at 16; torch bf16 gains from 64 (AMX
# tiles fill better), OpenVINO keeps its streams busy with either and pads less at 16.
DEFAULT_BATCH_SIZE: dict[str, int] = {
    "torch": 16,
    "torch-bf16": 64,
    "onnx-int8": 16,
    "onnx-fp32": 16,
    "openvino": 16,
    "openvino-int8": 16,
}


def make_scorer(
    model_dir: str | Path,
    backend: Backend = "torch",
    *,
    batch_size: int | None = None,
    max_length: int | None = None,
    threads: int | None = None,
    cache_entries: int = 0,
) -> SentimentScorer:
    """A scorer for ``model_dir``: PyTorch (fp32 or bf16), ONNX Runtime (int8 or fp32) or OpenVINO
    (bf16 where the CPU has it, else int8; or int8 explicitly). Exports happen on first use and are cached.

    ``batch_size=None`` takes the backend's :data:`DEFAULT_BATCH_SIZE`. ``cache_entries > 0`` wraps the
    scorer in a de-duplicating :class:`models.scoring.cache.CachedScorer`.
    """
    if backend not in get_args(Backend):
        raise ValueError(f"unknown scoring backend {backend!r}; choose one of {list(get_args(Backend))}")
    size = batch_size or DEFAULT_BATCH_SIZE[backend]
    scorer: SentimentScorer
    if backend in ("torch", "torch-bf16"):
        from models.scoring.scorer import Scorer

        dtype = "bfloat16" if backend == "torch-bf16" else "float32"
        scorer = Scorer(model_dir, batch_size=size, max_length=max_length, threads=threads, dtype=dtype)
    elif backend in ("onnx-int8", "onnx-fp32"):
        from models.scoring.onnx_backend import OnnxScorer

        precision = "int8" if backend == "onnx-int8" else "fp32"
        scorer = OnnxScorer(model_dir, precision=precision, batch_size=size, max_length=max_length, threads=threads)
    else:
        from models.scoring.openvino_backend import OpenVinoScorer

        scorer = OpenVinoScorer(
            model_dir, precision="int8" if backend == "openvino-int8" else None, batch_size=size,
            max_length=max_length, threads=threads,
        )
    if cache_entries > 0:
        from models.scoring.cache import CachedScorer

        scorer = CachedScorer(scorer, max_entries=cache_entries)
    return scorer
