"""Predicted-label distribution drift: a sliding window of labels vs. a reference mix.

The reference is the label mix the model predicted on its validation set at registration
(``CheckpointMeta.reference_distribution``). Per-brand tracks learn their own reference from the
brand's first window instead, because brands differ far more from each other than a brand
differs from itself over time (airline tweets are ~63 % negative, a general feed ~30 %).

Three measures on the window (default 500 labels):

- **chi-square goodness of fit** — is the difference more than sampling noise? With ~5,000 checks
  per 5,000 posts (heavily correlated, one per label), ``p < 1e-4`` keeps the false-alarm rate of a
  stationary stream near zero (``brandpulse bench detectors``; docs/benchmarks.md).
- **Jensen–Shannon distance** (scipy, base 2, in [0, 1]; the square root of the divergence) — how *big* is the difference? 0.1 corresponds
  to moving ~10 percentage points of mass between classes (e.g. negative 30 % → 40 %). Smaller
  mismatches are normal between a curated validation set and live traffic (daily cycles, news)
  and would page someone for nothing.
- **PSI** (population stability index) — the credit-risk convention: < 0.1 stable, 0.1–0.2
  moderate, ≥ 0.2 significant. It weighs *relative* change, so it catches a rare class tripling
  (2 % → 8 %) that JS rates small.

Alarm rule (defaults): ``p < 1e-4 AND (JS ≥ 0.1 OR PSI ≥ 0.2)`` — significance *and* a size worth
acting on. With a 500-label window the window must be about half new traffic before JS reaches
0.1, so a 20-point jump of the negative share alarms after a few hundred post-change labels
(docs/benchmarks.md has the measured delays).

One shift, one alert: checks start once the window is full (warm-up); after an alarm there is a
cooldown (default 1,000 labels) and the detector re-arms only after JS has stayed below
``rearm_js`` (default 0.05, half the alarm level) for ``rearm_quiet`` consecutive labels. A
persisting shift therefore alerts once; the fix is a retrained model whose new version gets a
fresh detector with a fresh reference.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from drift.measures import chi_square, js_distance, normalise, psi

STATE_VERSION = 1


class LabelThresholds(BaseModel):
    """Alarm rule and one-alert-per-shift guards (defaults justified in the module docstring)."""

    window: int = Field(default=500, ge=20)
    p_value: float = Field(default=1e-4, gt=0, lt=1)
    js: float = Field(default=0.1, gt=0, le=1)
    psi: float = Field(default=0.2, gt=0)
    cooldown: int = Field(default=1_000, ge=0)
    rearm_js: float = Field(default=0.05, ge=0)
    rearm_quiet: int = Field(default=200, ge=0)


class LabelDriftSignal(BaseModel):
    index: int = Field(description="1-based count of labels seen when the alarm fired")
    window: int
    p_value: float
    chi2: float
    js: float
    psi: float
    observed: dict[str, float]
    reference: dict[str, float]
    rising_label: str = Field(description="label whose share grew most")


class LabelDistributionDetector:
    """Sliding-window label mix vs. a reference, alarming once per shift.

    ``reference=None`` learns the reference from the first ``window`` labels (used per brand).
    ``update`` costs a few microseconds plus one chi² survival-function call; no I/O.
    """

    name = "label_distribution"

    def __init__(
        self,
        reference: Mapping[str, float] | None = None,
        thresholds: LabelThresholds | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        self.thresholds = thresholds or LabelThresholds()
        self.reference: dict[str, float] | None = None
        self.labels: list[str] = list(labels) if labels else []
        if reference:
            self._set_reference(reference)
        elif not labels:
            raise ValueError(
                "no reference distribution: pass the checkpoint's reference_distribution, "
                "or labels=[...] to learn the reference from the first window"
            )
        self.n = 0
        self._window: deque[str] = deque(maxlen=self.thresholds.window)
        self._counts: Counter[str] = Counter()
        self._learning: Counter[str] = Counter()
        self._checks_from = self.thresholds.window  # first index at which checks run
        self._armed = True
        self._last_alert: int | None = None
        self._quiet = 0

    def _set_reference(self, reference: Mapping[str, float]) -> None:
        labels = self.labels or list(reference)
        missing = set(reference) - set(labels)
        if missing:
            raise ValueError(f"reference has labels {sorted(missing)} not in labels {labels}")
        probs = normalise([float(reference.get(label, 0.0)) for label in labels])
        self.labels = labels
        self.reference = dict(zip(labels, probs))

    def update(self, label: str) -> LabelDriftSignal | None:
        """Add one predicted label; return a signal when an alarm is due."""
        if self.labels and label not in self.labels:
            raise ValueError(
                f"label {label!r} is not one of {self.labels}; the reference must come from the "
                "same model version as the predictions"
            )
        self.n += 1
        if self.reference is None:
            self._learning[label] += 1
            if sum(self._learning.values()) >= self.thresholds.window:
                self._set_reference({k: float(v) for k, v in self._learning.items()})
                self._checks_from = self.n + self.thresholds.window
            return None
        if len(self._window) == self._window.maxlen:
            self._counts[self._window[0]] -= 1
        self._window.append(label)
        self._counts[label] += 1
        if self.n < self._checks_from:
            return None
        return self._check()

    def update_many(self, labels: Iterable[str]) -> list[LabelDriftSignal]:
        return [s for label in labels if (s := self.update(label)) is not None]

    def _check(self) -> LabelDriftSignal | None:
        assert self.reference is not None
        counts = [float(self._counts[label]) for label in self.labels]
        ref = [self.reference[label] for label in self.labels]
        js = js_distance(counts, ref)
        if not self._armed:
            self._quiet = self._quiet + 1 if js < self.thresholds.rearm_js else 0
            assert self._last_alert is not None
            if self.n - self._last_alert >= self.thresholds.cooldown and self._quiet >= self.thresholds.rearm_quiet:
                self._armed = True
            return None
        p_psi = psi(counts, ref)
        if js < self.thresholds.js and p_psi < self.thresholds.psi:
            return None
        test = chi_square(counts, ref)
        if test.p_value >= self.thresholds.p_value:
            return None
        self._armed = False
        self._last_alert = self.n
        self._quiet = 0
        total = sum(counts)
        observed = {label: c / total for label, c in zip(self.labels, counts)}
        rising = max(self.labels, key=lambda lab: observed[lab] - self.reference[lab])  # type: ignore[index]
        return LabelDriftSignal(
            index=self.n,
            window=len(self._window),
            p_value=test.p_value,
            chi2=test.statistic,
            js=js,
            psi=p_psi,
            observed=observed,
            reference=dict(self.reference),
            rising_label=rising,
        )

    # --- persistence -------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "state_version": STATE_VERSION,
            "thresholds": self.thresholds.model_dump(),
            "labels": self.labels,
            "reference": self.reference,
            "n": self.n,
            "window": list(self._window),
            "learning": dict(self._learning),
            "checks_from": self._checks_from,
            "armed": self._armed,
            "last_alert": self._last_alert,
            "quiet": self._quiet,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LabelDistributionDetector:
        if state.get("state_version") != STATE_VERSION:
            raise ValueError(
                f"label detector state version {state.get('state_version')!r} is not {STATE_VERSION}; "
                "delete the drift state file to start the detectors afresh"
            )
        det = cls(
            reference=state["reference"],
            thresholds=LabelThresholds.model_validate(state["thresholds"]),
            labels=state["labels"] or None,
        )
        det.n = int(state["n"])
        det._window = deque(state["window"], maxlen=det.thresholds.window)
        det._counts = Counter(det._window)
        det._learning = Counter({k: int(v) for k, v in state["learning"].items()})
        det._checks_from = int(state["checks_from"])
        det._armed = bool(state["armed"])
        det._last_alert = state["last_alert"]
        det._quiet = int(state["quiet"])
        return det
