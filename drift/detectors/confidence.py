"""Confidence-stream drift detectors: River detectors behind warm-up, cooldown and hysteresis.

What is watched: the model's confidence (max class probability) per scored post. When the input
distribution moves away from what the model was trained on, confidence drops first, long before
labels arrive — so this is the earliest, label-free drift signal.

Why a wrapper: raw River detectors answer "did the stream change here?", value by value. Used
directly they produce alert storms — ADWIN resets after each detection and fires again and again
along a gradual slide (see ``test_guard_turns_a_raw_adwin_storm_into_one_alert``), Page-Hinkley
restarts and can refire while a new level settles, KSWIN fires at its significance level on noise. An on-call channel needs *one alert per shift*. The guard:

- **warm-up** (default 500 values): values are fed to the detector (so it learns the stream)
  but never alert; a fresh model version or a restarted brand track starts quietly.
- **cooldown** (default 1,000 values): after an alert, no alert for this many values.
- **hysteresis / re-arm** (default 300 quiet values): after the cooldown the guard re-arms only
  once the underlying detector has been silent for this many consecutive values, i.e. the stream
  has settled at its new level. A detector that keeps firing on one long transition never re-arms.
- **effect size** (default ``min_shift`` = 0.03): a detection also needs the mean confidence to
  have moved by at least this much against the reference (the mean since the last change).
  Variance-only or tiny-but-significant changes at high volume are not worth a page.
- **like with like**: a model is usually surer of one label than another, so a pure change of
  label mix (a wave of complaints) moves the raw mean by itself; that is the label-mix detector's
  news, not a sign the model is failing. When each value comes with the label the model decided,
  the River detector watches the value less its label's reference mean, and the effect size is
  measured against the reference weighted to the label mix after the change (each label's mean
  before it, averaged over the posts after it). A drop that a change of mix hides in the raw mean
  is found the same way. Without labels the raw values are watched, as before.

Defaults and why: ADWIN (``delta=0.002``, River's default) is the default method: it is
parameter-light, O(log n) memory, adapts its window to the change, and in ``brandpulse bench
detectors`` it finds a 0.08 drop of mean confidence with no false alarm on stationary streams.
Page-Hinkley (``threshold=5, delta=0.01`` tuned for values in [0, 1]; River's default threshold of
50 is for unscaled data) is faster but raised a false alarm there; available as
``method="page_hinkley"``. KSWIN runs a KS test on every update, costs the most and is noisier;
offered for shape changes that keep the mean. docs/benchmarks.md has the measured delays.

Where the change happened: River says *that* the stream changed, not *where*, so the change
point is re-estimated from the last 500 values as the maximum of the centred CUSUM. The alert
reports the mean before (reference: all values since the previous change) and after that point.

State: :meth:`ConfidenceDetector.to_state` returns a JSON-serialisable dict. The River object is
pickled and base64-encoded inside it, because its internal buckets (ADWIN) or cumulative sums
(Page-Hinkley) cannot be rebuilt exactly from a bounded window. The state file is therefore
trusted local state written by the worker itself — load it only from the worker's own data dir.
"""

from __future__ import annotations

import base64
import math
import pickle
from collections import deque
from typing import Any, Literal

from pydantic import BaseModel, Field
from river import drift as river_drift

Method = Literal["adwin", "page_hinkley", "kswin"]

STATE_VERSION = 2  # 2: recent values carry their decided label (version 1 states still load)
_RECENT = 500  # recent values kept to estimate the post-change mean and the change point
_LABEL_MIN = 30  # values of a label before its own mean is its baseline (the overall mean until then)


class GuardConfig(BaseModel):
    """How a raw detector's fires become alerts (see module docstring for the defaults)."""

    warmup: int = Field(default=500, ge=0, description="values observed before any alert")
    cooldown: int = Field(default=1_000, ge=0, description="values after an alert with no alert")
    rearm_quiet: int = Field(
        default=300, ge=0, description="consecutive values without a raw fire needed to re-arm"
    )
    min_shift: float = Field(
        default=0.03, ge=0, description="minimum |mean change| of confidence for an alert"
    )


class DriftSignal(BaseModel):
    """One alert-worthy change in a numeric stream."""

    detector: str
    index: int = Field(description="1-based count of values seen when the alert fired")
    change_index: int = Field(description="estimated 1-based index of the first post-change value")
    reference_mean: float
    current_mean: float
    shift: float = Field(description="current_mean - expected_mean: the change the label mix does not explain")
    expected_mean: float = Field(
        description="reference_mean re-weighted to the label mix after the change (= reference_mean without labels)"
    )
    threshold: float = Field(description="the detector's sensitivity parameter")


def _make(method: Method, params: dict[str, Any]) -> Any:
    if method == "adwin":
        return river_drift.ADWIN(**params)
    if method == "page_hinkley":
        return river_drift.PageHinkley(**params)
    if method == "kswin":
        return river_drift.KSWIN(**params)
    raise ValueError(f"unknown method {method!r}; use one of 'adwin', 'page_hinkley', 'kswin'")


_DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "adwin": {"delta": 0.002},
    "page_hinkley": {"threshold": 5.0, "delta": 0.01, "min_instances": 30},
    "kswin": {"alpha": 1e-4, "window_size": 300, "stat_size": 100, "seed": 7},
}
_SENSITIVITY_PARAM = {"adwin": "delta", "page_hinkley": "threshold", "kswin": "alpha"}


class ConfidenceDetector:
    """A River drift detector with warm-up, cooldown, hysteresis and an effect-size gate.

    >>> det = ConfidenceDetector()
    >>> signals = [s for x in stream if (s := det.update(x)) is not None]

    ``update`` is O(1) amortised for ADWIN / Page-Hinkley (about a microsecond); no I/O.
    """

    def __init__(
        self,
        method: Method = "adwin",
        guard: GuardConfig | None = None,
        **params: Any,
    ) -> None:
        self.method: Method = method
        self.params: dict[str, Any] = {**_DEFAULT_PARAMS.get(method, {}), **params}
        self.guard = guard or GuardConfig()
        self._detector = _make(method, self.params)
        self.n = 0
        self._armed_at = self.guard.warmup  # alerts allowed once n > _armed_at and armed
        self._armed = True
        self._last_alert: int | None = None
        self._quiet = 0
        self._recent: deque[float] = deque(maxlen=_RECENT)
        self._recent_labels: deque[str | None] = deque(maxlen=_RECENT)
        self._recent_fed: deque[float] = deque(maxlen=_RECENT)  # what the River detector saw
        # Reference = values since the last detected change (or since start), in all and per label.
        self._ref_sum = 0.0
        self._ref_count = 0
        self._ref_by_label: dict[str, list[float]] = {}  # label -> [sum, count]

    @property
    def name(self) -> str:
        key = _SENSITIVITY_PARAM[self.method]
        return f"{self.method}({key}={self.params[key]})"

    @property
    def threshold(self) -> float:
        return float(self.params[_SENSITIVITY_PARAM[self.method]])

    def update(self, x: float, label: str | None = None) -> DriftSignal | None:
        """Feed one value (a confidence in [0, 1]) and, when known, the label the model decided;
        return a signal when an alert is due."""
        x = float(x)
        if not math.isfinite(x):
            raise ValueError(f"confidence must be a finite number, got {x!r}")
        fed = x if label is None else x - self._baseline(label, x)
        self.n += 1
        self._recent.append(x)
        self._recent_labels.append(label)
        self._recent_fed.append(fed)
        self._add_to_reference(x, label)
        self._detector.update(fed)
        if not self._detector.drift_detected:
            self._quiet += 1
            self._maybe_rearm()
            return None
        self._quiet = 0
        signal = self._measure()
        # Whatever happens to the alert, the regime changed: the new level is the new reference.
        self._reset_reference(signal.change_index)
        if not self._may_alert() or abs(signal.shift) < self.guard.min_shift:
            return None
        self._armed = False
        self._last_alert = self.n
        return signal

    def _baseline(self, label: str, x: float) -> float:
        total, count = self._ref_by_label.get(label, (0.0, 0))
        if count >= _LABEL_MIN:
            return total / count
        return self._ref_sum / self._ref_count if self._ref_count else x

    def _may_alert(self) -> bool:
        return self._armed and self.n > self._armed_at

    def _maybe_rearm(self) -> None:
        if self._armed or self._last_alert is None:
            return
        if self.n - self._last_alert >= self.guard.cooldown and self._quiet >= self.guard.rearm_quiet:
            self._armed = True

    def _change_index(self) -> int:
        """Most likely single change point in the recent values (maximum of the centred CUSUM).

        River's detectors say *that* the stream changed, not *where* (ADWIN even resets its window
        on the next update), so the split is re-estimated here from the bounded recent buffer.
        """
        values = list(self._recent_fed)
        mean = sum(values) / len(values)
        cusum, best, split = 0.0, -1.0, len(values) - 1
        for i, v in enumerate(values[:-1]):
            cusum += v - mean
            if abs(cusum) > best:
                best, split = abs(cusum), i + 1
        return self.n - len(values) + split + 1

    def _after(self, change_index: int) -> tuple[list[float], list[str | None]]:
        k = self.n - change_index + 1
        return list(self._recent)[-k:], list(self._recent_labels)[-k:]

    def _measure(self) -> DriftSignal:
        change = self._change_index()
        after, after_labels = self._after(change)
        after_sum = sum(after)
        before_count = self._ref_count - len(after)
        if before_count > 0:
            reference = (self._ref_sum - after_sum) / before_count
        else:
            reference = after_sum / len(after)
        current = after_sum / len(after)
        expected = self._expected(after, after_labels, reference)
        return DriftSignal(
            detector=self.name,
            index=self.n,
            change_index=change,
            reference_mean=reference,
            current_mean=current,
            shift=current - expected,
            expected_mean=expected,
            threshold=self.threshold,
        )

    def _expected(self, after: list[float], labels: list[str | None], reference: float) -> float:
        """The reference mean at the label mix after the change: each post's label's mean before it."""
        before: dict[str, float] = {}
        for label in set(labels):
            if label is None:
                continue
            total, count = self._ref_by_label.get(label, (0.0, 0))
            mine = [x for x, lab in zip(after, labels, strict=True) if lab == label]
            if count - len(mine) > 0:
                before[label] = (total - sum(mine)) / (count - len(mine))
        return sum(before.get(lab, reference) if lab is not None else reference for lab in labels) / len(labels)

    def _add_to_reference(self, x: float, label: str | None) -> None:
        self._ref_sum += x
        self._ref_count += 1
        if label is not None:
            acc = self._ref_by_label.setdefault(label, [0.0, 0])
            acc[0] += x
            acc[1] += 1

    def _reset_reference(self, change_index: int) -> None:
        after, labels = self._after(change_index)
        self._ref_sum, self._ref_count, self._ref_by_label = 0.0, 0, {}
        for x, label in zip(after, labels, strict=True):
            self._add_to_reference(x, label)

    # --- persistence -------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot; ``from_state`` restores an identical detector."""
        return {
            "state_version": STATE_VERSION,
            "method": self.method,
            "params": self.params,
            "guard": self.guard.model_dump(),
            "n": self.n,
            "armed": self._armed,
            "armed_at": self._armed_at,
            "last_alert": self._last_alert,
            "quiet": self._quiet,
            "recent": list(self._recent),
            "recent_labels": list(self._recent_labels),
            "recent_fed": list(self._recent_fed),
            "ref_sum": self._ref_sum,
            "ref_count": self._ref_count,
            "ref_by_label": self._ref_by_label,
            "river_b64": base64.b64encode(pickle.dumps(self._detector)).decode("ascii"),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ConfidenceDetector:
        if state.get("state_version") not in (1, STATE_VERSION):
            raise ValueError(
                f"confidence detector state version {state.get('state_version')!r} is not "
                f"{STATE_VERSION}; delete the drift state file to start the detectors afresh"
            )
        det = cls(state["method"], GuardConfig.model_validate(state["guard"]), **state["params"])
        det.n = int(state["n"])
        det._armed = bool(state["armed"])
        det._armed_at = int(state["armed_at"])
        det._last_alert = state["last_alert"]
        det._quiet = int(state["quiet"])
        det._recent = deque((float(v) for v in state["recent"]), maxlen=_RECENT)
        # Version 1 kept no labels: the gate compares raw means until labelled values come in.
        labels = state.get("recent_labels") or [None] * len(det._recent)
        det._recent_labels = deque(labels, maxlen=_RECENT)
        det._recent_fed = deque((float(v) for v in state.get("recent_fed", state["recent"])), maxlen=_RECENT)
        det._ref_sum = float(state["ref_sum"])
        det._ref_count = int(state["ref_count"])
        det._ref_by_label = {k: [float(v[0]), int(v[1])] for k, v in state.get("ref_by_label", {}).items()}
        # Trusted local state written by this worker (see module docstring).
        det._detector = pickle.loads(base64.b64decode(state["river_b64"]))  # noqa: S301
        return det
