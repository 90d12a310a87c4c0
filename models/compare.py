"""Compare candidate base encoders under the same cross-validation: quality against CPU cost.

One row per candidate: parameter count, fp32 size, CPU scoring throughput, CV macro-F1 ± std and
negative recall — the numbers needed to choose what the streaming workers run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from models.cv import CVResult, FoldResult, cross_validate
from models.data import LabelledData
from models.train import TrainConfig, predict_logits, load_untrained

THROUGHPUT_TEXTS = 256


class CandidateRow(BaseModel):
    base_model: str
    params_m: float
    size_mb: float
    cpu_texts_per_s: float
    macro_f1: tuple[float, float]
    negative_recall: tuple[float, float] | None
    cv: CVResult


def cpu_throughput(
    base_model: str, texts: list[str], labels: list[str], *, max_length: int, cache_dir: Path, threads: int | None
) -> tuple[float, int]:
    """(texts/s scoring on CPU, parameter count). Speed depends on architecture, not on fine-tuned weights."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    tokenizer, model = load_untrained(base_model, labels, cache_dir)
    model = model.to("cpu").eval()
    n_params = sum(p.numel() for p in model.parameters())
    sample = (texts * (THROUGHPUT_TEXTS // max(len(texts), 1) + 1))[:THROUGHPUT_TEXTS]
    predict_logits(model, tokenizer, sample[:32], max_length, 64)  # warm-up: first call allocates
    started = time.perf_counter()
    predict_logits(model, tokenizer, sample, max_length, 64)
    return len(sample) / (time.perf_counter() - started), n_params


def compare(
    candidates: list[str],
    data: LabelledData,
    config: TrainConfig,
    folds: int = 5,
    *,
    seed: int = 0,
    cache_dir: Path,
    progress: bool = True,
    on_fold: Callable[[str, FoldResult], None] | None = None,
) -> list[CandidateRow]:
    """Run the same CV (same folds, same hyper-parameters) for each candidate base model."""
    rows: list[CandidateRow] = []
    for name in candidates:
        cfg = config.model_copy(update={"base_model": name})
        cv = cross_validate(
            data,
            cfg,
            folds,
            seed=seed,
            progress=progress,
            cache_dir=cache_dir,
            on_fold=(lambda fr, n=name: on_fold(n, fr)) if on_fold else None,
        )
        speed, n_params = cpu_throughput(
            name, data.texts, data.label_names, max_length=cfg.max_length, cache_dir=cache_dir, threads=cfg.threads
        )
        rows.append(
            CandidateRow(
                base_model=name,
                params_m=n_params / 1e6,
                size_mb=n_params * 4 / 1e6,
                cpu_texts_per_s=speed,
                macro_f1=cv.summary["macro_f1"],
                negative_recall=cv.summary.get("negative_recall"),
                cv=cv,
            )
        )
    return rows
