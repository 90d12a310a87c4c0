"""Labels as people type them and as CSV files bring them: what is accepted and what is refused, and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from drift.labels.human import LabelError, LabelImportError, parse_label, read_labels_csv


def test_parse_label_accepts_keys_and_names() -> None:
    assert [parse_label(v) for v in ("n", "U", " pos ", "Negative")] == ["negative", "neutral", "positive", "negative"]
    with pytest.raises(LabelError, match="not one of negative, neutral, positive"):
        parse_label("meh")


def test_csv_import_refuses_a_file_without_the_required_columns(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,sentiment\n1,negative\n")
    with pytest.raises(LabelImportError, match=r"missing column\(s\) \['post_id', 'label'\]"):
        read_labels_csv(bad, "x")
    with pytest.raises(LabelImportError, match="does not exist"):
        read_labels_csv(tmp_path / "nope.csv", "x")
