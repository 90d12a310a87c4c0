"""The auto backend's rules: a macro-F1 loss counts only when it is real beyond sampling noise, and a
larger micro-batch has to be clearly faster to be worth its memory."""

from __future__ import annotations

import numpy as np

from models.scoring.backend_choice import SelectionConfig, Trial, _parity, available_backends, pick

LABELS = ["negative", "neutral", "positive"]


def _reference(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gold labels and a reference model right on about 75 % of them."""
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 3, n)
    ref = np.where(rng.random(n) < 0.75, gold, rng.integers(0, 3, n))
    return gold, ref


def _flip(pred: np.ndarray, gold: np.ndarray, right_to_wrong: int, wrong_to_right: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = pred.copy()
    right, wrong = np.flatnonzero(pred == gold), np.flatnonzero(pred != gold)
    for i in rng.choice(right, right_to_wrong, replace=False):
        out[i] = (gold[i] + 1) % 3
    for i in rng.choice(wrong, wrong_to_right, replace=False):
        out[i] = gold[i]
    return out


def test_a_few_disagreements_either_way_keep_parity() -> None:
    gold, ref = _reference(2000)
    candidate = _flip(ref, gold, right_to_wrong=12, wrong_to_right=8)  # 99 % agreement, a point loss ~0.003
    agreement, delta, low, ok = _parity(candidate, ref, gold, LABELS, SelectionConfig())
    assert ok, (agreement, delta, low)


def test_a_real_loss_beyond_the_margin_is_refused() -> None:
    gold, ref = _reference(2000)
    candidate = _flip(ref, gold, right_to_wrong=55, wrong_to_right=0)  # 97.3 % agreement, a real ~0.03 loss
    agreement, delta, low, ok = _parity(candidate, ref, gold, LABELS, SelectionConfig())
    assert agreement >= 0.97 and not ok, (agreement, delta, low)


def test_every_runnable_backend_is_a_candidate() -> None:
    candidates = available_backends()
    assert candidates[0] == "torch" and {"onnx-int8", "onnx-fp32"} <= set(candidates)


def _trial(backend: str, batch_size: int, posts_per_s: float, parity: bool = True) -> Trial:
    return Trial(backend=backend, batch_size=batch_size, posts_per_s=posts_per_s, label_agreement=1.0, parity=parity)  # type: ignore[arg-type]


def test_a_larger_micro_batch_only_a_little_faster_gives_way_to_the_smaller() -> None:
    trials = [_trial("torch", 16, 290), _trial("openvino-int8", 16, 1190), _trial("openvino-int8", 64, 1240)]
    assert (pick(trials, 0.05).backend, pick(trials, 0.05).batch_size) == ("openvino-int8", 16)


def test_a_larger_micro_batch_clearly_faster_is_chosen() -> None:
    trials = [_trial("openvino-int8", 16, 1000), _trial("openvino-int8", 64, 1100)]
    assert pick(trials, 0.05).batch_size == 64


def test_the_tolerance_never_hands_the_choice_to_another_backend() -> None:
    trials = [_trial("onnx-int8", 16, 1150), _trial("openvino-int8", 64, 1190)]
    assert (pick(trials, 0.05).backend, pick(trials, 0.05).batch_size) == ("openvino-int8", 64)
