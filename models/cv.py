"""Stratified k-fold cross-validation and held-out evaluation of checkpoints.

Each fold trains on k-1 folds (holding part of them out for early stopping, calibration and the
threshold, exactly like a production run) and is scored only on the fold it never saw, so the
reported mean ± std estimates what a freshly trained model does on new data.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from models.data import DataError, LabelledData, deduplicate, validate_for_training
from models.classification_metrics import classification_metrics, mean_std
from models.scoring.scorer import Scorer, decide
from models.train import TrainConfig, checkpoint_metrics, fine_tune

SUMMARY_KEYS = ("macro_f1", "accuracy", "macro_recall", "negative_recall", "negative_precision", "ece")


def stratified_folds(data: LabelledData, folds: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train indices, test indices) per fold; every class appears in every test fold."""
    from sklearn.model_selection import StratifiedKFold

    validate_for_training(data, folds=folds)
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in skf.split(np.zeros(len(data)), data.y)]


def align_probs(probs: np.ndarray, model_labels: list[str], data_labels: list[str]) -> np.ndarray:
    """Model probabilities restricted to the data's labels (a 3-class model scored on a binary set)."""
    if model_labels == data_labels:
        return probs
    missing = [lab for lab in data_labels if lab not in model_labels]
    if missing:
        raise DataError(f"the model cannot predict {missing} (its labels are {model_labels}); evaluate on matching data")
    cols = [model_labels.index(lab) for lab in data_labels]
    sub = probs[:, cols]
    return sub / np.clip(sub.sum(axis=1, keepdims=True), 1e-12, None)


@dataclass
class Evaluation:
    metrics: dict
    y: np.ndarray
    probs: np.ndarray
    labels: list[str]
    version: str
    threshold: float | None
    model_labels: list[str]  # what the checkpoint predicts; ``labels`` are the data's (a subset of them)
    pred: np.ndarray  # the decided class per row, indices into ``labels``


def evaluate_checkpoint(
    model_dir: Path, data: LabelledData, *, batch_size: int = 64, threads: int | None = None
) -> Evaluation:
    """Score ``data`` with a checkpoint's calibrated probabilities and tuned decision rule."""
    scorer = Scorer(model_dir, batch_size=batch_size, threads=threads)
    probs = align_probs(scorer.predict_proba(data.texts), scorer.labels, data.label_names)
    meta = scorer.meta
    neg = meta.negative_label if meta.negative_label in data.label_names else None
    # A binary view of a 3-class model renormalises p(negative), so its 3-class threshold no longer applies.
    cut = meta.negative_threshold if scorer.labels == data.label_names else None
    bias = None if meta.class_bias is None else [meta.class_bias[scorer.labels.index(lab)] for lab in data.label_names]
    pred = decide(probs, data.label_names, neg, cut, bias)
    metrics = classification_metrics(data.y, probs, data.label_names, y_pred=pred)
    return Evaluation(metrics, data.y, probs, data.label_names, meta.version, cut, scorer.labels, pred)


def holdout_report(
    model_dir: Path, data: LabelledData, out_dir: Path, title: str = "", *, batch_size: int = 64, threads: int | None = None
) -> tuple[Evaluation, dict]:
    """Evaluate on a held-out set and write report.json/.md + plots into ``out_dir``."""
    from models.reports import write_report

    ev = evaluate_checkpoint(model_dir, data, batch_size=batch_size, threads=threads)
    paths = write_report(out_dir, ev.metrics, ev.y, ev.probs, ev.labels, title=title or f"{ev.version} on {data.source}")
    return ev, paths


class FoldResult(BaseModel):
    fold: int
    n_train: int
    n_test: int
    metrics: dict[str, float]
    train_seconds: float


class CVResult(BaseModel):
    base_model: str
    folds: list[FoldResult]
    summary: dict[str, tuple[float, float]]

    def line(self, key: str = "macro_f1") -> str:
        m, s = self.summary[key]
        return f"{m:.3f} ± {s:.3f}"


def summarise(folds: list[FoldResult]) -> dict[str, tuple[float, float]]:
    keys = [k for k in SUMMARY_KEYS if all(k in f.metrics for f in folds)]
    return {k: mean_std(f.metrics[k] for f in folds) for k in keys}


def cross_validate(
    data: LabelledData,
    config: TrainConfig,
    folds: int = 5,
    *,
    seed: int = 0,
    progress: bool = True,
    cache_dir: Path,
    on_fold: Callable[[FoldResult], None] | None = None,
) -> CVResult:
    """Stratified k-fold CV of ``fine_tune`` with ``config``: per-fold test metrics and their mean ± std."""
    data = deduplicate(data)
    results: list[FoldResult] = []
    for i, (tr, te) in enumerate(stratified_folds(data, folds, seed)):
        train, test = data.subset(tr, f"{data.source} fold{i} train"), data.subset(te, f"{data.source} fold{i} test")
        with tempfile.TemporaryDirectory(prefix=f"brandpulse-cv{i}-") as tmp:
            res = fine_tune(train, Path(tmp), config, progress=progress, cache_dir=cache_dir)
            ev = evaluate_checkpoint(Path(tmp), test, threads=config.threads)
        neg = "negative" if "negative" in test.label_names else None
        fr = FoldResult(
            fold=i,
            n_train=len(train),
            n_test=len(test),
            metrics=checkpoint_metrics(ev.metrics, None, neg),
            train_seconds=res.train_seconds,
        )
        results.append(fr)
        if on_fold is not None:
            on_fold(fr)
    return CVResult(base_model=config.base_model, folds=results, summary=summarise(results))
