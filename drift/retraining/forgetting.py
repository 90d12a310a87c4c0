"""The forgetting gate: a retrained model may not lose more than a set margin on the general set.

A retrain adapts the champion to the live domain (airline complaints, a launch); the general set
(:func:`drift.retraining.training_sets.split_general`: general tweets held out of the base corpus,
the same texts in every retrain) shows what that cost on everything else. The challenger and the
champion it would replace are scored on it, and a challenger whose macro-F1 there falls more than
``max_general_loss`` below the champion's is not sent to shadow, so it can never be promoted.

Pure: predictions in, a :class:`GeneralCheck` out (kept in the outcome, the registry and the report).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from models.classification_metrics import bootstrap_gains

INTERVAL = (0.05, 0.95)  # the paired-bootstrap interval of the change reported with every check
# A loss of exactly max_general_loss is allowed; macro-F1 differences carry float rounding.
TOLERANCE = 1e-9


class GeneralCheck(BaseModel):
    """The retrained model and the champion on the general set, and whether the retrained one forgot too much."""

    source: str
    n: int
    challenger_macro_f1: float
    champion_version: str | None = None
    champion_macro_f1: float | None = None
    change: float | None = None  # challenger − champion
    low: float | None = None  # 5 % and 95 % paired-bootstrap quantiles of the change
    high: float | None = None
    max_loss: float | None = None  # None: the gate was off (scores recorded only)
    confidence: float | None = None  # None: the change itself decided; else its one-sided upper bound
    bound: float | None = None  # that upper bound, when it decided
    forgets: bool = False  # kept out of shadow for what it lost here

    def verdict(self) -> str:
        """One line for outcome messages, alerts and logs."""
        head = f"general set ({self.source}): macro-F1 {self.challenger_macro_f1:.3f}"
        if self.champion_macro_f1 is None or self.change is None:
            return f"{head}; no champion to compare"
        line = f"{head} vs champion {self.champion_version} {self.champion_macro_f1:.3f}, change {self.change:+.3f}"
        if self.low is not None and self.high is not None:
            line += f" (90 % interval {self.low:+.3f} to {self.high:+.3f})"
        if self.max_loss is None:
            return f"{line}; forgetting gate off"
        if self.bound is not None:
            line += f", {self.confidence:.0%} upper bound {self.bound:+.3f}"
        return f"{line}, allowed {-self.max_loss:+.3f}" + (": forgets too much" if self.forgets else "")


def check_forgetting(
    gold: Sequence[str],
    challenger: Sequence[str],
    challenger_macro_f1: float,
    champion: Sequence[str] | None,
    champion_macro_f1: float | None,
    *,
    champion_version: str | None,
    max_loss: float | None,
    confidence: float | None = None,
    source: str = "general set",
) -> GeneralCheck:
    """Whether the challenger (its predictions on ``gold``'s texts) lost more than ``max_loss`` macro-F1.

    ``confidence`` None: the change on the set decides. It is the one number the contract and the
    soak benchmark state ("≤ 0.02 lost per promotion") and the set is the same in every retrain.
    With a confidence, only a loss beyond ``max_loss`` at that one-sided confidence (paired bootstrap
    over the texts) keeps a model out: lenient towards noise, like the held-out gain gate.
    """
    check = GeneralCheck(source=source, n=len(gold), challenger_macro_f1=challenger_macro_f1, max_loss=max_loss)
    if champion is None or champion_macro_f1 is None:
        return check
    change = challenger_macro_f1 - champion_macro_f1
    gains = bootstrap_gains(gold, challenger, champion)  # one resampling for the interval and the bound
    low, high = (float(np.quantile(gains, q)) for q in INTERVAL)
    check = check.model_copy(update={
        "champion_version": champion_version, "champion_macro_f1": champion_macro_f1, "change": change,
        "low": low, "high": high,
    })
    if max_loss is None:
        return check
    if confidence is None:
        return check.model_copy(update={"forgets": change < -max_loss - TOLERANCE})
    bound = float(np.quantile(gains, confidence))
    return check.model_copy(update={"confidence": confidence, "bound": bound, "forgets": bound < -max_loss - TOLERANCE})
