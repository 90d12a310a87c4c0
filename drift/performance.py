"""Live accuracy from human labels: rolling macro-F1 and negative recall per model version.

Fed with (predicted, human) pairs for the *flyback* sample only (uniform, see
:mod:`drift.labels.flyback`), so the rolling numbers estimate live performance without bias. Actively
selected labels (uncertain posts) are biased by construction and never reach this monitor.

What the alert compares, and why:

- each model is held to **its own validated quality** (``set_baseline``: the macro-F1 the
  checkpoint reached on its validation set), not to a fixed bar. A fixed 0.85 is above the state of
  the art for 3-class tweet sentiment (TweetEval's best ≈ 0.74 macro-recall) and fired on every model;
- it fires on a **statistically significant drop**: a percentile bootstrap over the labelled
  window gives a one-sided ``confidence`` (95 %) upper bound for the live macro-F1; the alert needs
  that bound below the baseline *and* the point estimate at least ``min_drop`` (0.03) under it, so
  a drop that is real but too small to matter stays quiet;
- ``f1_floor`` is an absolute bar on top (off by default; 0.60 is a level real tweet models reach);
- ``window`` = 500 pairs (~50k posts at 1 % flyback) and ``min_labels`` = 200: below that the
  bootstrap interval is ±0.05 wide and the test has little power;
- hysteresis: after an alert, re-arm only once the drop is no longer significant, so a model
  hovering at the line produces one alert, not one per label batch.

Macro-F1 averages over the labels that occur (in predictions or human labels) in the window —
a class absent from both says nothing about the model and must not drag the mean to 0.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field
from sklearn.metrics import f1_score

from drift.records import Alert
from models.classification_metrics import label_codes, resampled_macro_f1

STATE_VERSION = 2


def macro_f1(pairs: Iterable[tuple[str, str]]) -> float:
    """sklearn's macro-F1 of ``(predicted, human)`` pairs over the labels present (0.0 for no pairs)."""
    pairs = list(pairs)
    if not pairs:
        return 0.0
    predicted, human = zip(*pairs)
    present = sorted(set(predicted) | set(human))
    return float(f1_score(human, predicted, labels=present, average="macro", zero_division=0))


def class_f1(pairs: Iterable[tuple[str, str]], label: str) -> float | None:
    """sklearn's F1 of ``label`` over ``(predicted, human)`` pairs; None if no human label is ``label``."""
    pairs = list(pairs)
    if not any(h == label for _, h in pairs):
        return None
    predicted, human = zip(*pairs)
    return float(f1_score(human, predicted, labels=[label], average="macro", zero_division=0))


def recall(pairs: Iterable[tuple[str, str]], label: str) -> float | None:
    """Recall of ``label`` (share of human-``label`` posts predicted as such); None if none occur."""
    hits = total = 0
    for p, h in pairs:
        if h == label:
            total += 1
            hits += p == h
    return hits / total if total else None


def bootstrap_macro_f1_upper(
    pairs: Sequence[tuple[str, str]], confidence: float = 0.95, resamples: int = 1000, seed: int = 0
) -> float:
    """One-sided upper confidence bound of macro-F1 by the percentile bootstrap over ``pairs``."""
    if not pairs:
        return 0.0
    k, true, (pred,) = label_codes([h for _, h in pairs], [p for p, _ in pairs])
    draws = np.random.default_rng(seed).integers(0, len(pairs), size=(resamples, len(pairs)))
    return float(np.quantile(resampled_macro_f1(pred, true, draws, k), confidence))


class PerformanceConfig(BaseModel):
    window: int = Field(default=500, ge=10)
    min_labels: int = Field(default=200, ge=1)
    confidence: float = Field(default=0.95, gt=0.5, lt=1, description="One-sided confidence of the drop test")
    min_drop: float = Field(default=0.03, ge=0, le=1, description="Smallest macro-F1 drop below the baseline worth an alert")
    resamples: int = Field(default=1000, ge=100, le=20_000, description="Bootstrap resamples")
    f1_floor: float | None = Field(default=None, gt=0, le=1, description="Absolute macro-F1 bar (None: off)")
    negative_label: str = "negative"


class PerformanceSnapshot(BaseModel):
    model_version: str
    labels: int
    macro_f1: float
    negative_recall: float | None
    baseline: float | None = None


class PerformanceMonitor:
    """Rolling labelled-sample metrics per model version; alerts once per significant drop."""

    def __init__(self, config: PerformanceConfig | None = None) -> None:
        self.config = config or PerformanceConfig()
        self._pairs: dict[str, deque[tuple[str, str]]] = {}
        self._post_ids: dict[str, deque[str]] = {}
        self._baselines: dict[str, float] = {}
        self._alerted: set[str] = set()

    def set_baseline(self, model_version: str, macro_f1: float) -> None:
        """The model's validated macro-F1 (from its checkpoint): what live labels are compared with."""
        if not 0.0 < macro_f1 <= 1.0:
            raise ValueError(f"baseline macro-F1 of {model_version!r} must be in (0, 1], got {macro_f1}")
        self._baselines[model_version] = macro_f1

    def baseline(self, model_version: str) -> float | None:
        return self._baselines.get(model_version)

    def observe(self, model_version: str, predicted: str, human: str, post_id: str = "") -> Alert | None:
        """Add one labelled pair; see :meth:`observe_many`."""
        return self.observe_many(model_version, [(predicted, human)], [post_id])

    def observe_many(
        self, model_version: str, pairs: Sequence[tuple[str, str]], post_ids: Sequence[str] | None = None
    ) -> Alert | None:
        """Add a batch of labelled pairs; return a ``labelled_performance`` alert when the window shows a drop."""
        window = self._pairs.setdefault(model_version, deque(maxlen=self.config.window))
        ids = self._post_ids.setdefault(model_version, deque(maxlen=self.config.window))
        window.extend(pairs)
        ids.extend(post_ids if post_ids is not None else [""] * len(pairs))
        if not pairs or len(window) < self.config.min_labels:
            return None
        dropped, reason = self._dropped(model_version, window)
        if model_version in self._alerted:
            if not dropped:
                self._alerted.discard(model_version)
            return None
        if not dropped:
            return None
        self._alerted.add(model_version)
        return self._alert(model_version, reason)

    def rearm(self, model_version: str) -> None:
        """The next labelled batch that still shows the drop alerts again (see :meth:`HealthMonitor.rearm`)."""
        self._alerted.discard(model_version)

    def _dropped(self, model_version: str, window: Sequence[tuple[str, str]]) -> tuple[bool, str]:
        f1 = macro_f1(window)
        floor = self.config.f1_floor
        if floor is not None and f1 < floor:
            return True, f"below the configured floor {floor:.2f}"
        base = self._baselines.get(model_version)
        if base is None or f1 > base - self.config.min_drop:
            return False, ""
        upper = bootstrap_macro_f1_upper(list(window), self.config.confidence, self.config.resamples)
        if upper >= base:
            return False, ""
        return True, (
            f"significantly below its validated {base:.3f} ({self.config.confidence:.0%} upper bound {upper:.3f})"
        )

    def snapshot(self, model_version: str) -> PerformanceSnapshot:
        pairs = self._pairs.get(model_version, deque())
        return PerformanceSnapshot(
            model_version=model_version,
            labels=len(pairs),
            macro_f1=macro_f1(pairs),
            negative_recall=recall(pairs, self.config.negative_label),
            baseline=self._baselines.get(model_version),
        )

    def _alert(self, model_version: str, reason: str) -> Alert:
        snap = self.snapshot(model_version)
        pairs = self._pairs[model_version]
        wrong = [pid for pid, (p, h) in zip(self._post_ids[model_version], pairs) if p != h and pid]
        neg = "n/a" if snap.negative_recall is None else f"{snap.negative_recall:.3f}"
        threshold = snap.baseline if snap.baseline is not None else (self.config.f1_floor or 0.0)
        return Alert(
            alert_id=uuid.uuid4().hex,
            kind="labelled_performance",
            detector="macro_f1_bootstrap",
            statistic=snap.macro_f1,
            threshold=threshold,
            window=snap.labels,
            model_version=model_version,
            example_post_ids=wrong[-5:],
            message=(
                f"Macro-F1 of {model_version} on the last {snap.labels} randomly sampled human-labelled posts is "
                f"{snap.macro_f1:.3f}, {reason}; {self.config.negative_label} recall {neg}."
            ),
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "state_version": STATE_VERSION,
            "config": self.config.model_dump(),
            "pairs": {v: [list(p) for p in pairs] for v, pairs in self._pairs.items()},
            "post_ids": {v: list(ids) for v, ids in self._post_ids.items()},
            "baselines": dict(self._baselines),
            "alerted": sorted(self._alerted),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PerformanceMonitor:
        if state.get("state_version") != STATE_VERSION:
            raise ValueError(f"performance state version {state.get('state_version')!r} is not {STATE_VERSION}")
        mon = cls(PerformanceConfig.model_validate(state["config"]))
        w = mon.config.window
        mon._pairs = {v: deque(((p, h) for p, h in pairs), maxlen=w) for v, pairs in state["pairs"].items()}
        mon._post_ids = {v: deque(ids, maxlen=w) for v, ids in state["post_ids"].items()}
        mon._baselines = {v: float(b) for v, b in state["baselines"].items()}
        mon._alerted = set(state["alerted"])
        return mon
