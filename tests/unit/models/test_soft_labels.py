"""Soft labels: stored logits found again by text, whatever the order, and tied to the data they came from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.bootstrap import recipe_teacher
from models.data import DataError, LabelledData
from models.soft_labels import SoftLabels, data_fingerprint

LABELS = ["negative", "neutral", "positive"]
DATA = LabelledData(["awful @bob", "fine http://x.co", "love it"], ["negative", "neutral", "positive"], "3class", "t")
LOGITS = np.array([[2.0, 0.0, -1.0], [0.0, 1.5, 0.0], [-1.0, 0.0, 3.0]])


def stored(tmp_path: Path) -> Path:
    return SoftLabels.from_logits(DATA.texts, LOGITS, labels=LABELS, fingerprint=data_fingerprint(DATA)).save(tmp_path / "s.npz")


def test_logits_are_found_by_text_in_any_order(tmp_path: Path) -> None:
    loaded = SoftLabels.load(stored(tmp_path))
    assert loaded(["love it", "awful @bob"]).tolist() == [[-1.0, 0.0, 3.0], [2.0, 0.0, -1.0]]


def test_texts_are_matched_as_training_normalises_them(tmp_path: Path) -> None:
    loaded = SoftLabels.load(stored(tmp_path))
    assert loaded(["awful @user"]).tolist() == [[2.0, 0.0, -1.0]]


def test_columns_follow_the_labels_asked_for(tmp_path: Path) -> None:
    loaded = SoftLabels.load(stored(tmp_path))
    assert loaded(["love it"], labels=["positive", "negative", "neutral"]).tolist() == [[3.0, -1.0, 0.0]]


def test_a_text_without_a_soft_label_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="1 training texts have no soft label"):
        SoftLabels.load(stored(tmp_path))(["never seen"])


def test_the_fingerprint_ignores_row_order() -> None:
    shuffled = DATA.subset([2, 0, 1])
    assert data_fingerprint(shuffled) == data_fingerprint(DATA)


def test_the_fingerprint_changes_with_a_label() -> None:
    relabelled = LabelledData(DATA.texts, ["negative", "neutral", "neutral"], "3class", "t")
    assert data_fingerprint(relabelled) != data_fingerprint(DATA)


def test_the_recipe_uses_soft_labels_of_its_own_data(tmp_path: Path) -> None:
    assert recipe_teacher(stored(tmp_path), DATA) is not None


def test_soft_labels_of_other_training_data_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="computed on other training data"):
        recipe_teacher(stored(tmp_path), DATA.subset([0, 1]))


def test_a_text_whose_digest_ends_in_a_zero_byte_is_found(tmp_path: Path) -> None:
    # sha1("post number 252") ends in 0x00: a fixed-width byte string would drop it and never match again.
    path = SoftLabels.from_logits(["post number 252"], LOGITS[:1], labels=LABELS, fingerprint="f").save(tmp_path / "z.npz")
    assert SoftLabels.load(path)(["post number 252"]).tolist() == [[2.0, 0.0, -1.0]]


def test_a_file_that_is_not_soft_labels_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "labels.npz"
    bad.write_text("text,label\nhello,positive\n")
    with pytest.raises(DataError, match="is not a soft-labels file"):
        SoftLabels.load(bad)
