"""Real airline tweets as a stream, and the test model warm-started on a fixed part of them (an
airline-tuned challenger or champion), shared by the end-to-end tests of the loop."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

from tests.support.data import airline_rows
from tests.support.models import fine_tuned


def split_rows() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Real airline tweets: a fixed training part for the airline model, the rest for streams."""
    rows = airline_rows()
    random.Random(5).shuffle(rows)
    return rows[:2500], rows[2500:]


def airline_model(trained_model: Path) -> Path:
    """The test model warm-started on 2,500 real airline tweets: a model whose domain is the stream's."""
    from models.data import LabelledData, deduplicate, normalise_tweet
    from models.train import TrainConfig

    config = TrainConfig(base_model=str(trained_model), max_length=64, batch_size=16, lr=5e-5, epochs=1, max_steps=100,
                         patience=None, seed=11, version="test-airline/1")

    def data() -> LabelledData:
        train, _ = split_rows()
        # Normalised first: "@united thank you" and "@delta thank you" are one text to the model.
        return deduplicate(LabelledData([normalise_tweet(r["text"]) for r in train],
                                        [r["airline_sentiment"] for r in train], "3class", "airline"))

    return fine_tuned("airline", config, data)


def as_posts(rows: list[dict[str, str]], tag: str, start: int = 0) -> list[bytes]:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    return [
        json.dumps({"post_id": f"{tag}-{start + i}", "text": r["text"], "brand": r["airline"],
                    "created_at": (t0 + dt.timedelta(seconds=start + i)).isoformat()}).encode()
        for i, r in enumerate(rows)
    ]
