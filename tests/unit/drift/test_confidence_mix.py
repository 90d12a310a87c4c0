"""The confidence detector compares like with like: a change of label mix alone is not model drift."""

from __future__ import annotations

import numpy as np

from drift.detectors.confidence import ConfidenceDetector

SURE = {"negative": 0.95, "positive": 0.78}  # this model is surer of negatives than of positives


def stream(seed: int, negative_share: list[float], drop: list[float], n: int = 4_000) -> list[tuple[float, str]]:
    """``n`` posts per phase: decided labels at the phase's negative share, confidence at the label's level minus ``drop``."""
    rng = np.random.default_rng(seed)
    out: list[tuple[float, str]] = []
    for share, d in zip(negative_share, drop, strict=True):
        for _ in range(n):
            label = "negative" if rng.random() < share else "positive"
            out.append((float(np.clip(SURE[label] - d + rng.normal(0, 0.06), 0.34, 1.0)), label))
    return out


def signals(values: list[tuple[float, str]], with_labels: bool) -> list:  # type: ignore[no-untyped-def]
    det = ConfidenceDetector()
    return [s for x, label in values if (s := det.update(x, label if with_labels else None)) is not None]


def test_a_pure_change_of_label_mix_raises_no_confidence_alert() -> None:
    # 30 % -> 70 % negatives: the raw mean rises by about 0.07, every label's confidence stays put.
    assert [signals(stream(seed, [0.3, 0.7], [0.0, 0.0]), with_labels=True) for seed in range(3)] == [[], [], []]


def test_without_labels_the_same_change_of_mix_reads_as_a_confidence_shift() -> None:
    fired = signals(stream(0, [0.3, 0.7], [0.0, 0.0]), with_labels=False)
    assert [round(s.shift, 2) for s in fired] == [0.07]


def test_a_drop_within_every_label_at_a_constant_mix_alerts_once_with_its_size() -> None:
    fired = signals(stream(1, [0.5, 0.5], [0.0, 0.08]), with_labels=True)
    assert [(4_000 < s.index <= 4_400, s.shift < -0.06) for s in fired] == [(True, True)]


def test_a_drop_hidden_by_a_change_of_mix_is_still_found() -> None:
    # Negatives rise from 30 % to 70 % (+0.07 on the raw mean) while each label loses 0.08:
    # the raw mean barely moves, the like-with-like comparison shows the loss.
    fired = signals(stream(2, [0.3, 0.7], [0.0, 0.08]), with_labels=True)
    assert [s.shift < -0.06 for s in fired] == [True]


def test_a_state_saved_before_labels_were_kept_still_loads() -> None:
    det = ConfidenceDetector()
    for x, _ in stream(3, [0.5], [0.0], n=600):
        det.update(x)
    state = det.to_state()
    state["state_version"] = 1
    for key in ("recent_labels", "ref_by_label"):
        del state[key]
    restored = ConfidenceDetector.from_state(state)
    assert (restored.n, restored.update(0.9, "negative")) == (600, None)
