"""Which candidate of a retrain goes on to evaluation: the most adapted that keeps the general case.

A retrain may make several candidates: one per recipe, and blends of a warm-started one with the
champion (:mod:`models.blend`). Each is scored on the human validation labels (the live domain) and,
when there is a champion, on the *choice* set: general texts held out of the base corpus that are
neither trained on nor the forgetting gate's set (:func:`drift.retraining.training_sets.split_general`).

Human validation is small (a fifth of a retrain's labels: 50-odd at the first retrain of a domain),
so a difference of a few points of macro-F1 between two candidates is mostly which posts happened to
land there. Moving along the line from the champion to the tuned weights gains in-domain accuracy
almost monotonically (WiSE-FT) while the general case is kept by the choice-set limit, so the most
adapted candidate that keeps the general case goes on, unless human validation shows another one
*clearly* better (a paired bootstrap of the gain, :func:`models.classification_metrics.bootstrap_gain_bound`).
Pure: scores in, a name out.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from models.classification_metrics import bootstrap_gain_bound


class CandidateScore(BaseModel):
    name: str
    human_valid_macro_f1: float
    general_macro_f1: float | None = None  # on the choice set; None when there is no champion or no set
    # The human validation labels and this candidate's decisions on them, for a paired comparison;
    # left out of what is logged (MLflow's candidate_choice).
    valid_gold: list[str] | None = Field(default=None, exclude=True)
    valid_pred: list[str] | None = Field(default=None, exclude=True)


def choose_candidate(
    scores: Sequence[CandidateScore],
    champion_general_macro_f1: float | None,
    max_general_loss: float | None,
    confidence: float = 0.9,
) -> CandidateScore:
    """The candidate that goes on. ``scores`` come most adapted first: each recipe's tuned model, then
    its blends from the most to the least tuned.

    Among those losing at most ``max_general_loss`` on the choice set against the champion, the first
    goes on, unless the best of them on human validation beats it there with a paired-bootstrap lower
    bound above zero at ``confidence`` (without decisions to pair: unless it scores higher at all). If
    every candidate loses more, the one that loses least. Without a champion score or a limit, the
    best on human validation. Ties go to the earlier.
    """
    if not scores:
        raise ValueError("no candidate to choose from")
    best_valid = max(scores, key=lambda s: s.human_valid_macro_f1)
    if champion_general_macro_f1 is None or max_general_loss is None:
        return best_valid
    known = [s for s in scores if s.general_macro_f1 is not None]
    keeps = [s for s in known if champion_general_macro_f1 - s.general_macro_f1 <= max_general_loss + 1e-9]
    if keeps:
        first, best = keeps[0], max(keeps, key=lambda s: s.human_valid_macro_f1)
        return best if best is not first and _clearly_better(best, first, confidence) else first
    if not known:
        return best_valid
    return max(known, key=lambda s: (s.general_macro_f1, s.human_valid_macro_f1))


def fallbacks(scores: Sequence[CandidateScore], chosen: CandidateScore) -> list[CandidateScore]:
    """The candidates to try, in turn, when ``chosen`` forgets too much on the forgetting gate's set:
    those that kept more of the general case than it on the choice set, most adapted first.

    The choice set and the gate's set are different texts, so a candidate near the choice limit can
    pass one and fail the other on sampling alone; the next step towards the champion usually keeps
    enough. Empty without choice-set scores.
    """
    if chosen.general_macro_f1 is None:
        return []
    return [s for s in scores if s.general_macro_f1 is not None and s.general_macro_f1 > chosen.general_macro_f1]


def _clearly_better(new: CandidateScore, old: CandidateScore, confidence: float) -> bool:
    if new.human_valid_macro_f1 <= old.human_valid_macro_f1:
        return False
    gold = new.valid_gold
    if gold is None or gold != old.valid_gold or new.valid_pred is None or old.valid_pred is None:
        return True  # nothing to pair: the higher score is all there is to go on
    return bootstrap_gain_bound(gold, new.valid_pred, old.valid_pred, 1 - confidence) > 0
