"""Champion vs challenger on live traffic: the evidence a promotion decision rests on.

Words, used one way across brandpulse: the **challenger** is a model — the registry alias a retrain
gives a candidate, and the ``role`` of the ``ModelEvent`` that loads it. **Shadow** is how a
challenger runs — scored on every post next to the champion, its rows stored with
``model_role='shadow'`` but never served, trended or counted by the drift detectors. So "the
challenger's shadow rows", never "the shadow model".

The worker scores every post with the champion and, in shadow, with the challenger. Comparing the two on the same posts shows how often they agree and how
differently they distribute labels; the human-labelled subset of those posts shows which one is
right more often. Pure functions: the caller gives the rows and the labels (the watcher, from its
verdict ledger, :mod:`drift.labels.verdicts`).

Promotion rule (:func:`should_promote`) and why:

- at least ``min_labels`` (200) labelled posts scored by both: below that macro-F1 on a few hundred
  posts wobbles by ±0.04 and a "win" is noise (same reasoning as :mod:`drift.performance`);
- the challenger's macro-F1 beats the champion's by ``margin`` (0.02), so a model swap — which
  resets drift references and dashboards — buys a real gain;
- and its negative recall is not worse by more than ``margin``: missing complaints is the failure
  brand teams feel most, so an F1 gain bought with negative recall is not a win — unless its
  negative F1 is better too. Recall alone rewards flagging everything: a champion that calls 97 %
  of airline posts negative has the best recall there is and negative labels that mean nothing, and
  no sane challenger could ever replace it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Protocol

from pydantic import BaseModel

from drift.measures import js_distance
from drift.performance import class_f1, macro_f1, recall
from drift.records import HumanLabel

NEGATIVE = "negative"


class ScoredLabel(Protocol):
    """What the comparison needs of a scored row (``drift.records.ScoredPost`` fits)."""

    @property
    def post_id(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def model_version(self) -> str: ...


class ShadowReport(BaseModel):
    champion_version: str
    challenger_version: str
    n_paired: int  # posts scored by both models
    agreement: float  # share of paired posts where both chose the same label
    js_distance: float  # label-distribution difference on the paired posts (base 2, 0..1)
    champion_distribution: dict[str, float]
    challenger_distribution: dict[str, float]
    n_labels: int  # paired posts that also carry a human label
    champion_macro_f1: float
    challenger_macro_f1: float
    champion_negative_recall: float | None
    challenger_negative_recall: float | None
    champion_negative_f1: float | None = None
    challenger_negative_f1: float | None = None

    def summary(self) -> str:
        def pct(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.3f}"

        return (
            f"{self.challenger_version} vs {self.champion_version} on {self.n_paired} posts: agreement "
            f"{self.agreement:.1%}, JS distance {self.js_distance:.3f}; on {self.n_labels} labelled posts macro-F1 "
            f"{self.challenger_macro_f1:.3f} vs {self.champion_macro_f1:.3f}, negative recall "
            f"{pct(self.challenger_negative_recall)} vs {pct(self.champion_negative_recall)}"
        )


def _by_post(rows: Iterable[ScoredLabel], role: str) -> tuple[str, dict[str, str]]:
    """post_id → label (a re-delivered post keeps its last verdict) and the single model version."""
    labels: dict[str, str] = {}
    versions: set[str] = set()
    for r in rows:
        labels[r.post_id] = r.label
        versions.add(r.model_version)
    if len(versions) > 1:
        raise ValueError(
            f"{role} rows come from several model versions {sorted(versions)}; "
            "compare one champion version with one challenger version (filter the rows by model_version)"
        )
    if not labels:
        raise ValueError(f"no {role} rows to compare; the challenger must shadow-score some traffic first")
    return versions.pop(), labels


def _distribution(labels: Iterable[str], names: Sequence[str]) -> dict[str, float]:
    counts = Counter(labels)
    total = sum(counts.values())
    return {n: counts.get(n, 0) / total for n in names}


def compare(
    champion_rows: Iterable[ScoredLabel], challenger_rows: Iterable[ScoredLabel], human_labels: Iterable[HumanLabel]
) -> ShadowReport:
    """Compare the two models on the posts both scored; labelled metrics use the posts with a human label.

    ``challenger_rows`` are the challenger's shadow rows (``model_role='shadow'``).
    """
    champion_version, champion = _by_post(champion_rows, "champion")
    challenger_version, challenger = _by_post(challenger_rows, "shadow")
    paired = sorted(champion.keys() & challenger.keys())
    if not paired:
        raise ValueError(
            f"champion {champion_version} and challenger {challenger_version} share no scored posts; "
            "compare rows from the same time window"
        )
    human = {h.post_id: h.label for h in human_labels}  # last label wins, as in the trainer
    names = sorted({champion[p] for p in paired} | {challenger[p] for p in paired} | {NEGATIVE})
    champ_dist = _distribution((champion[p] for p in paired), names)
    chall_dist = _distribution((challenger[p] for p in paired), names)
    labelled = [p for p in paired if p in human]
    champ_pairs = [(champion[p], human[p]) for p in labelled]
    chall_pairs = [(challenger[p], human[p]) for p in labelled]
    return ShadowReport(
        champion_version=champion_version,
        challenger_version=challenger_version,
        n_paired=len(paired),
        agreement=sum(champion[p] == challenger[p] for p in paired) / len(paired),
        js_distance=js_distance([champ_dist[n] for n in names], [chall_dist[n] for n in names]),
        champion_distribution=champ_dist,
        challenger_distribution=chall_dist,
        n_labels=len(labelled),
        champion_macro_f1=macro_f1(champ_pairs),
        challenger_macro_f1=macro_f1(chall_pairs),
        champion_negative_recall=recall(champ_pairs, NEGATIVE),
        challenger_negative_recall=recall(chall_pairs, NEGATIVE),
        champion_negative_f1=class_f1(champ_pairs, NEGATIVE),
        challenger_negative_f1=class_f1(chall_pairs, NEGATIVE),
    )


def should_promote(report: ShadowReport, margin: float = 0.02, min_labels: int = 200) -> tuple[bool, str]:
    """(promote?, why) by the rule in the module docstring."""
    if margin < 0 or min_labels < 1:
        raise ValueError(f"margin must be >= 0 and min_labels >= 1; got {margin}, {min_labels}")
    f1_gain = report.challenger_macro_f1 - report.champion_macro_f1
    if report.n_labels < min_labels:
        return False, (
            f"only {report.n_labels} labelled posts scored by both models (need {min_labels}); keep labelling"
        )
    if f1_gain < margin:
        return False, (
            f"challenger macro-F1 {report.challenger_macro_f1:.3f} vs champion {report.champion_macro_f1:.3f} "
            f"(gain {f1_gain:+.3f} < {margin:.3f})"
        )
    champ_neg, chall_neg = report.champion_negative_recall, report.challenger_negative_recall
    if champ_neg is None or chall_neg is None:
        return False, f"no human-labelled {NEGATIVE} posts in the sample; negative recall cannot be checked"
    champ_f1, chall_f1 = report.champion_negative_f1, report.challenger_negative_f1
    if chall_neg < champ_neg - margin and (champ_f1 is None or chall_f1 is None or chall_f1 <= champ_f1):
        return False, (
            f"challenger {NEGATIVE} recall {chall_neg:.3f} is below the champion's {champ_neg:.3f} "
            f"by more than {margin:.3f} and its {NEGATIVE} F1 is no better, despite a macro-F1 gain of {f1_gain:+.3f}"
        )
    return True, (
        f"challenger macro-F1 {report.challenger_macro_f1:.3f} beats champion {report.champion_macro_f1:.3f} "
        f"by {f1_gain:+.3f} on {report.n_labels} labelled posts; {NEGATIVE} recall {chall_neg:.3f} vs {champ_neg:.3f}"
    )
