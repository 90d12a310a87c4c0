"""Which candidate of a retrain goes on to evaluation: the best on human validation that keeps the general case.

A retrain may make several candidates: one per recipe, and blends of a warm-started one with the
champion (:mod:`models.blend`). Each is scored on the human validation labels (the live domain) and,
when there is a champion, on the *choice* set: general texts held out of the base corpus that are
neither trained on nor the forgetting gate's set (:func:`drift.retraining.training_sets.split_general`).
Pure: scores in, a name out.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel


class CandidateScore(BaseModel):
    name: str
    human_valid_macro_f1: float
    general_macro_f1: float | None = None  # on the choice set; None when there is no champion or no set


def choose_candidate(
    scores: Sequence[CandidateScore], champion_general_macro_f1: float | None, max_general_loss: float | None
) -> CandidateScore:
    """The best on human validation among those losing at most ``max_general_loss`` on the choice set
    against the champion; if every one loses more, the one that loses least. Ties go to the earlier.

    Without a champion score or a limit, the best on human validation.
    """
    if not scores:
        raise ValueError("no candidate to choose from")
    best_valid = max(scores, key=lambda s: s.human_valid_macro_f1)
    if champion_general_macro_f1 is None or max_general_loss is None:
        return best_valid
    known = [s for s in scores if s.general_macro_f1 is not None]
    keeps = [s for s in known if champion_general_macro_f1 - s.general_macro_f1 <= max_general_loss + 1e-9]
    if keeps:
        return max(keeps, key=lambda s: s.human_valid_macro_f1)
    if not known:
        return best_valid
    return max(known, key=lambda s: (s.general_macro_f1, s.human_valid_macro_f1))
