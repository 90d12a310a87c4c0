"""write_report produces readable markdown, valid JSON and real PNGs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.classification_metrics import classification_metrics
from models.reports import write_report
from models.thresholds import tune_negative_threshold

LABELS = ["negative", "neutral", "positive"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_full_report(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    logits = rng.normal(size=(200, 3)) + np.eye(3)[y] * 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    metrics = classification_metrics(y, probs, LABELS)
    thr = tune_negative_threshold(y, probs, LABELS, target_recall=0.9)
    paths = write_report(tmp_path / "rep", metrics, y, probs, LABELS, threshold=thr, title="toy v1")
    assert set(paths) == {"json", "markdown", "confusion_matrix", "pr_curves", "reliability", "threshold_curve"}
    for key in ("confusion_matrix", "pr_curves", "reliability", "threshold_curve"):
        assert paths[key].read_bytes()[:8] == PNG_MAGIC
    payload = json.loads(paths["json"].read_text())
    assert payload["metrics"]["macro_f1"] == pytest.approx(metrics["macro_f1"])
    assert payload["threshold"]["target_recall"] == 0.9
    md = paths["markdown"].read_text()
    assert md.startswith("# toy v1")
    assert "| negative |" in md and "Confusion matrix" in md and "Calibration" in md and "Decision threshold" in md
    cm_row = " | ".join(str(v) for v in metrics["confusion_matrix"][0])
    assert f"| negative | {cm_row} |" in md


def test_without_threshold_and_bad_metrics(tmp_path: Path) -> None:
    y = np.array([0, 1, 2])
    probs = np.eye(3)
    paths = write_report(tmp_path, classification_metrics(y, probs, LABELS), y, probs, LABELS)
    assert "threshold_curve" not in paths and paths["markdown"].exists()
    with pytest.raises(ValueError, match="classification_metrics"):
        write_report(tmp_path, {"accuracy": 1.0}, y, probs, LABELS)
