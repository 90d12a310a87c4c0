"""The data-mix bench's decontamination: SST-2's tokenised sentences found in raw movie snippets."""

from __future__ import annotations

from benchmarks.data_mix import content_key, decontaminate
from models.data import LabelledData

SST2_DEV = LabelledData(["it 's a charming -lrb- and often affecting -rrb- journey . "], ["positive"], "binary", "sst2/dev")


def test_a_sentence_tokenised_two_ways_has_one_key() -> None:
    assert content_key("It's a charming (and often affecting) journey.") == content_key(SST2_DEV.texts[0])


def test_snippets_equal_to_or_containing_a_shared_sentence_are_dropped() -> None:
    snippets = LabelledData(
        ["It's a charming (and often affecting) journey.",
         "Flat. It's a charming (and often affecting) journey, then it isn't.",
         "A charming film."],
        ["positive", "negative", "positive"], "3class", "vader/movies",
    )
    assert decontaminate(snippets, {"sst2/dev": SST2_DEV}).texts == ["A charming film."]
