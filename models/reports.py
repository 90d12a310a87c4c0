"""Evaluation reports: report.json, a readable report.md and PNG plots, written to one directory.

The report is the artifact a reviewer opens before promoting a model (and the one MLflow logs), so
the markdown carries the numbers and the PNGs carry the shapes: confusion matrix, one-vs-rest PR
curves, reliability diagram and, when a decision threshold was tuned, its precision/recall/F1 curve.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: reports are written by workers and CI, never shown

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import precision_recall_curve  # noqa: E402

from models.classification_metrics import reliability_bins  # noqa: E402
from models.thresholds import ThresholdResult  # noqa: E402


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _markdown(metrics: dict, labels: list[str], bins: list[dict], threshold: ThresholdResult | None, title: str) -> str:
    lines = [f"# {title or 'Evaluation report'}", ""]
    lines += [
        f"- examples: {metrics.get('n', '—')}",
        f"- accuracy: {_fmt(metrics['accuracy'])}",
        f"- macro F1: {_fmt(metrics['macro_f1'])}",
        f"- macro recall: {_fmt(metrics['macro_recall'])}",
        f"- weighted F1: {_fmt(metrics['weighted_f1'])}",
        f"- ROC-AUC (macro, one-vs-rest): {_fmt(metrics.get('roc_auc_macro'))}",
        f"- PR-AUC (macro, one-vs-rest): {_fmt(metrics.get('pr_auc_macro'))}",
        f"- ECE (15 bins): {_fmt(metrics['ece'], 4)}",
    ]
    if metrics.get("ece_per_class"):
        per_class = " · ".join(f"{name} {_fmt(v, 4)}" for name, v in metrics["ece_per_class"].items())
        lines.append(f"- ECE per class (bins of each class's probability): {per_class}")
    lines += [
        "",
        "## Per class",
        "",
        "| class | precision | recall | F1 | support | ROC-AUC | PR-AUC |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in labels:
        pc = metrics["per_class"][name]
        lines.append(
            f"| {name} | {_fmt(pc['precision'])} | {_fmt(pc['recall'])} | {_fmt(pc['f1'])} | {pc['support']} "
            f"| {_fmt(metrics['roc_auc'].get(name))} | {_fmt(metrics['pr_auc'].get(name))} |"
        )
    lines += ["", "## Confusion matrix (rows = true, columns = predicted)", ""]
    lines.append("| true \\ pred | " + " | ".join(labels) + " |")
    lines.append("|---|" + "---:|" * len(labels))
    for name, row in zip(labels, metrics["confusion_matrix"]):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    lines += ["", "## Calibration (top-label confidence bins)", ""]
    lines += ["| confidence bin | count | accuracy | mean confidence | gap |", "|---|---:|---:|---:|---:|"]
    for b in bins:
        lines.append(
            f"| ({b['lower']:.2f}, {b['upper']:.2f}] | {b['count']} | {b['accuracy']:.3f} "
            f"| {b['confidence']:.3f} | {b['accuracy'] - b['confidence']:+.3f} |"
        )
    if threshold is not None:
        target = f", target recall {threshold.target_recall:.2f}" if threshold.target_recall is not None else ""
        met = "" if threshold.met_target else " (target NOT reached)"
        rule = "argmax (no extra threshold)" if threshold.is_argmax else f"p >= {threshold.threshold:.4f}"
        lines += [
            "",
            "## Decision threshold",
            "",
            f"- class: {threshold.label if threshold.label is not None else threshold.positive_class}{target}{met}",
            f"- rule: {rule}",
            f"- precision {threshold.precision:.3f}, recall {threshold.recall:.3f}, F1 {threshold.f1:.3f}",
        ]
    return "\n".join(lines) + "\n"


def _plot_confusion(cm: np.ndarray, labels: list[str], path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2.5, 1.2 * len(labels) + 2))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    peak = cm.max() if cm.size else 0
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if cm[i, j] > peak / 2 else "black")
    ax.set_title(title or "Confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_pr(y: np.ndarray, probs: np.ndarray, labels: list[str], metrics: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 5))
    for c, name in enumerate(labels):
        positives = y == c
        if not positives.any() or positives.all():
            continue
        precision, recall, _ = precision_recall_curve(positives, probs[:, c])
        ax.plot(recall, precision, label=f"{name} (AP {_fmt(metrics['pr_auc'].get(name))})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("Precision-recall, one-vs-rest")
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_reliability(bins: list[dict], ece: float, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    centers = [(b["lower"] + b["upper"]) / 2 for b in bins]
    width = bins[0]["upper"] - bins[0]["lower"] if bins else 0.1
    ax.bar(centers, [b["accuracy"] for b in bins], width=width * 0.9, alpha=0.7, label="accuracy")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", color="C3", label="bin means")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(f"Reliability diagram (ECE {ece:.4f})")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_threshold(threshold: ThresholdResult, path: Path) -> None:
    curve = np.asarray(threshold.curve, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    # t = 1.0 stands for "argmax only"; plot it at 1 so the curve stays on the probability axis.
    t = np.clip(curve[:, 0], 0, 1)
    for col, name in ((1, "precision"), (2, "recall"), (3, "F1")):
        ax.plot(t, curve[:, col], label=name)
    ax.axvline(min(threshold.threshold, 1.0), color="black", linestyle=":", label=f"chosen t={threshold.threshold:.3f}")
    if threshold.target_recall is not None:
        ax.axhline(threshold.target_recall, color="grey", linestyle="--", label="target recall")
    ax.set_xlabel("threshold on p(class)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Threshold sweep: {threshold.label or threshold.positive_class}")
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(
    out_dir: Path,
    metrics: dict,
    y_true: np.ndarray,
    probs: np.ndarray,
    labels: list[str],
    threshold: ThresholdResult | None = None,
    title: str = "",
) -> dict[str, Path]:
    """Write report.json, report.md and PNGs into ``out_dir``; returns {artifact name: path}.

    ``metrics`` is a ``models.classification_metrics.classification_metrics`` dict for the same ``y_true``/``probs``.
    """
    y = np.asarray(y_true)
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != len(labels) or len(y) != len(p):
        raise ValueError(f"probs must be (len(y_true), len(labels)); got {p.shape} for {len(y)} rows, {len(labels)} labels")
    missing = {"accuracy", "macro_f1", "per_class", "confusion_matrix", "ece"} - metrics.keys()
    if missing:
        raise ValueError(f"metrics lacks {sorted(missing)}; build it with models.classification_metrics.classification_metrics")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bins = reliability_bins(y, p)
    paths = {
        "json": out / "report.json",
        "markdown": out / "report.md",
        "confusion_matrix": out / "confusion_matrix.png",
        "pr_curves": out / "pr_curves.png",
        "reliability": out / "reliability.png",
    }
    payload = {
        "title": title,
        "metrics": metrics,
        "reliability": bins,
        "threshold": threshold.model_dump() if threshold is not None else None,
    }
    paths["json"].write_text(json.dumps(payload, indent=2))
    paths["markdown"].write_text(_markdown(metrics, labels, bins, threshold, title))
    _plot_confusion(np.asarray(metrics["confusion_matrix"]), labels, paths["confusion_matrix"], title)
    _plot_pr(y, p, labels, metrics, paths["pr_curves"])
    _plot_reliability(bins, float(metrics["ece"]), paths["reliability"])
    if threshold is not None:
        paths["threshold_curve"] = out / "threshold_curve.png"
        _plot_threshold(threshold, paths["threshold_curve"])
    return paths
