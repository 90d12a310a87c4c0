"""Choosing a retrain's candidate: the best on human validation among those that keep the general case."""

from __future__ import annotations

import pytest

from drift.retraining.choice import CandidateScore, choose_candidate, fallbacks


def scores(*rows: tuple[str, float, float | None]) -> list[CandidateScore]:
    return [CandidateScore(name=n, human_valid_macro_f1=v, general_macro_f1=g) for n, v, g in rows]


def test_the_tuned_model_wins_when_it_keeps_the_general_case() -> None:
    made = scores(("warm", 0.80, 0.745), ("warm-blend75", 0.78, 0.752), ("warm-blend50", 0.74, 0.755))
    assert choose_candidate(made, 0.750, 0.01).name == "warm"


def test_a_blend_wins_when_the_tuned_model_forgets() -> None:
    made = scores(("warm", 0.80, 0.725), ("warm-blend75", 0.78, 0.741), ("warm-blend50", 0.74, 0.752))
    assert choose_candidate(made, 0.750, 0.01).name == "warm-blend75"


def test_when_every_candidate_forgets_the_one_that_forgets_least_goes_on() -> None:
    made = scores(("warm", 0.80, 0.70), ("warm-blend75", 0.78, 0.72), ("warm-blend50", 0.74, 0.73))
    assert choose_candidate(made, 0.750, 0.01).name == "warm-blend50"


def test_without_a_champion_score_the_best_on_human_validation_wins() -> None:
    made = scores(("scratch", 0.70, None), ("warm", 0.72, None))
    assert choose_candidate(made, None, 0.01).name == "warm"


def test_a_loss_of_exactly_the_limit_is_allowed_and_ties_go_to_the_earlier() -> None:
    made = scores(("warm", 0.80, 0.74), ("warm-blend75", 0.80, 0.75))
    assert choose_candidate(made, 0.75, 0.01).name == "warm"


def test_no_candidate_is_an_error() -> None:
    with pytest.raises(ValueError, match="no candidate"):
        choose_candidate([], 0.75, 0.01)


def paired(name: str, general: float, gold: list[str], pred: list[str]) -> CandidateScore:
    right = sum(g == p for g, p in zip(gold, pred, strict=True))
    # macro-F1 stands in as accuracy here: only its order matters to the choice
    return CandidateScore(name=name, human_valid_macro_f1=right / len(gold), general_macro_f1=general,
                          valid_gold=gold, valid_pred=pred)


def test_the_most_tuned_keeper_goes_on_when_a_blend_is_ahead_by_a_few_validation_posts() -> None:
    # 50 posts: the blend gets 2 more right than the tuned model, well within what the draw of posts explains
    gold = ["negative", "neutral", "positive", "negative", "neutral"] * 10
    tuned = list(gold)
    blend = list(gold)
    for i in (0, 1, 2, 3, 5, 7):
        tuned[i] = "positive" if gold[i] != "positive" else "neutral"
    for i in (0, 1, 2, 3):
        blend[i] = tuned[i]
    made = [paired("warm-blend75", 0.745, gold, tuned), paired("warm-blend25", 0.750, gold, blend)]
    assert choose_candidate(made, 0.750, 0.01).name == "warm-blend75"


def test_a_less_tuned_keeper_wins_when_it_is_clearly_better_on_human_validation() -> None:
    gold = ["negative", "neutral", "positive", "negative", "neutral"] * 40
    blend = list(gold)
    tuned = list(gold)
    for i in range(0, 200, 3):  # the tuned model misses a third of the posts the blend gets right
        tuned[i] = "positive" if gold[i] != "positive" else "neutral"
    made = [paired("warm-blend75", 0.745, gold, tuned), paired("warm-blend25", 0.750, gold, blend)]
    assert choose_candidate(made, 0.750, 0.01).name == "warm-blend25"


def test_after_a_forgetting_gate_rejects_the_chosen_the_candidates_keeping_more_follow_most_adapted_first() -> None:
    # The soak's launch retrain: blend75 chosen (choice texts -0.006), then -0.021 on the gate's set.
    made = scores(("warm", 0.839, 0.7275), ("warm-blend75", 0.830, 0.7369), ("warm-blend50", 0.808, 0.7366),
                  ("warm-blend25", 0.797, 0.7475))
    assert [s.name for s in fallbacks(made, made[1])] == ["warm-blend25"]


def test_without_choice_scores_there_is_nothing_to_fall_back_on() -> None:
    made = scores(("scratch", 0.70, None), ("warm", 0.72, None))
    assert fallbacks(made, made[1]) == []
