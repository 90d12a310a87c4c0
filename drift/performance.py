"""Live accuracy from human labels: rolling macro-F1 and negative recall per model version.

Fed with (predicted, human) pairs for the *flyback* sample only (uniform, see
:mod:`drift.flyback`), so the rolling numbers estimate live performance without bias.

Defaults and why:

- ``window`` = 500 pairs: at a 1 % flyback rate that is ~50k posts of traffic; the standard error
  of a macro-F1 near 0.85 on 500 labels is about ±0.02, small enough to act on.
- ``min_labels`` = 200: below that the estimate wobbles by ±0.04 or more and would alert on noise.
- ``f1_threshold`` = 0.85: the promotion bar the training pipeline holds models to; falling under it
  live means the model no longer does what it was promoted for.
- hysteresis: after an alert, re-arm only once F1 is back above ``threshold + rearm_margin``
  (0.02), so a model hovering at the line produces one alert, not one per label.

Macro-F1 averages over the labels that occur (in predictions or human labels) in the window —
a class absent from both says nothing about the model and must not drag the mean to 0.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, Field

from streams.schemas import Alert

STATE_VERSION = 1


def f1_per_label(pairs: Iterable[tuple[str, str]]) -> dict[str, float]:
    """F1 of each label occurring in ``(predicted, human)`` pairs."""
    tp: dict[str, int] = {}
    pred: dict[str, int] = {}
    true: dict[str, int] = {}
    for p, h in pairs:
        pred[p] = pred.get(p, 0) + 1
        true[h] = true.get(h, 0) + 1
        if p == h:
            tp[p] = tp.get(p, 0) + 1
    scores = {}
    for label in set(pred) | set(true):
        denom = pred.get(label, 0) + true.get(label, 0)
        scores[label] = 2 * tp.get(label, 0) / denom if denom else 0.0
    return scores


def macro_f1(pairs: Iterable[tuple[str, str]]) -> float:
    """Unweighted mean F1 over the labels present (0.0 for no pairs)."""
    scores = f1_per_label(pairs)
    return sum(scores.values()) / len(scores) if scores else 0.0


def recall(pairs: Iterable[tuple[str, str]], label: str) -> float | None:
    """Recall of ``label`` (share of human-``label`` posts predicted as such); None if none occur."""
    hits = total = 0
    for p, h in pairs:
        if h == label:
            total += 1
            hits += p == h
    return hits / total if total else None


class PerformanceConfig(BaseModel):
    window: int = Field(default=500, ge=10)
    min_labels: int = Field(default=200, ge=1)
    f1_threshold: float = Field(default=0.85, gt=0, le=1)
    rearm_margin: float = Field(default=0.02, ge=0)
    negative_label: str = "negative"


class PerformanceSnapshot(BaseModel):
    model_version: str
    labels: int
    macro_f1: float
    negative_recall: float | None


class PerformanceMonitor:
    """Rolling labelled-sample metrics per model version; alerts once per dip below the bar."""

    def __init__(self, config: PerformanceConfig | None = None) -> None:
        self.config = config or PerformanceConfig()
        self._pairs: dict[str, deque[tuple[str, str]]] = {}
        self._post_ids: dict[str, deque[str]] = {}
        self._alerted: set[str] = set()

    def observe(self, model_version: str, predicted: str, human: str, post_id: str = "") -> Alert | None:
        """Add one labelled pair; return a ``labelled_performance`` alert when F1 drops below the bar."""
        pairs = self._pairs.setdefault(model_version, deque(maxlen=self.config.window))
        ids = self._post_ids.setdefault(model_version, deque(maxlen=self.config.window))
        pairs.append((predicted, human))
        ids.append(post_id)
        if len(pairs) < self.config.min_labels:
            return None
        f1 = macro_f1(pairs)
        if model_version in self._alerted:
            if f1 >= self.config.f1_threshold + self.config.rearm_margin:
                self._alerted.discard(model_version)
            return None
        if f1 >= self.config.f1_threshold:
            return None
        self._alerted.add(model_version)
        return self._alert(model_version, f1)

    def observe_many(self, model_version: str, pairs: Sequence[tuple[str, str]]) -> list[Alert]:
        return [a for p, h in pairs if (a := self.observe(model_version, p, h)) is not None]

    def snapshot(self, model_version: str) -> PerformanceSnapshot:
        pairs = self._pairs.get(model_version, deque())
        return PerformanceSnapshot(
            model_version=model_version,
            labels=len(pairs),
            macro_f1=macro_f1(pairs),
            negative_recall=recall(pairs, self.config.negative_label),
        )

    def _alert(self, model_version: str, f1: float) -> Alert:
        snap = self.snapshot(model_version)
        pairs = self._pairs[model_version]
        wrong = [pid for pid, (p, h) in zip(self._post_ids[model_version], pairs) if p != h and pid]
        neg = "n/a" if snap.negative_recall is None else f"{snap.negative_recall:.3f}"
        return Alert(
            alert_id=uuid.uuid4().hex,
            kind="labelled_performance",
            detector="rolling_macro_f1",
            statistic=f1,
            threshold=self.config.f1_threshold,
            window=snap.labels,
            model_version=model_version,
            example_post_ids=wrong[-5:],
            message=(
                f"Macro-F1 of {model_version} on the last {snap.labels} human-labelled posts is {f1:.3f} "
                f"(bar {self.config.f1_threshold:.2f}); {self.config.negative_label} recall {neg}."
            ),
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "state_version": STATE_VERSION,
            "config": self.config.model_dump(),
            "pairs": {v: [list(p) for p in pairs] for v, pairs in self._pairs.items()},
            "post_ids": {v: list(ids) for v, ids in self._post_ids.items()},
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
        mon._alerted = set(state["alerted"])
        return mon
