"""Micro-batch shapes: a few fixed (rows, tokens) pairs, however many posts a call brings."""

from __future__ import annotations

import pytest

from models.scoring.scorer import bounded_shape, every_bounded_shape


@pytest.mark.parametrize(
    ("rows", "width", "expected"),
    [(1, 1, (8, 16)), (3, 17, (8, 32)), (16, 64, (16, 64)), (9, 50, (16, 64)), (5, 33, (8, 48))],
)
def test_a_micro_batch_is_padded_to_the_next_bounded_shape(rows: int, width: int, expected: tuple[int, int]) -> None:
    assert bounded_shape(rows, width, batch_size=16, max_length=64) == expected


def test_rows_never_exceed_the_batch_size() -> None:
    assert bounded_shape(1, 20, batch_size=2, max_length=64) == (2, 32)


def test_tokens_never_exceed_the_max_length() -> None:
    assert bounded_shape(4, 70, batch_size=16, max_length=72) == (8, 72)


def test_every_micro_batch_of_up_to_sixteen_posts_fits_eight_shapes() -> None:
    assert every_bounded_shape(batch_size=16, max_length=64) == [(r, w) for r in (8, 16) for w in (16, 32, 48, 64)]


def test_a_large_batch_keeps_few_row_sizes() -> None:
    assert sorted({rows for rows, _ in every_bounded_shape(batch_size=64, max_length=128)}) == [8, 16, 32, 64]
