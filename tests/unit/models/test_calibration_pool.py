"""The default model's extra calibration texts: VADER's tweets and NYT snippets, minus what the caller names."""

from __future__ import annotations

from models.calibration_pool import calibration_pool
from models.data import LabelledData, load_vader


def test_the_pool_leaves_out_near_duplicates_of_the_sets_it_is_told_about() -> None:
    tweets = load_vader("tweets")
    # The same posts with a handle and a link added: near duplicates by the splits' key.
    named = LabelledData([f"@someone {t} https://t.co/x" for t in tweets.texts[:50]], tweets.labels[:50], "3class")
    full, without = calibration_pool([]), calibration_pool([named])
    assert full is not None and without is not None and len(full) - len(without) == 50
