"""Micro-batch shapes: a few fixed (rows, tokens) pairs, however many posts a call brings."""

from __future__ import annotations

import pytest

from models.scoring.scorer import bounded_shape


@pytest.mark.parametrize(
    ("rows", "width", "expected"),
    [(1, 1, (4, 16)), (3, 17, (4, 32)), (16, 64, (16, 64)), (9, 50, (12, 64)), (5, 33, (8, 48))],
)
def test_a_micro_batch_is_padded_to_the_next_bounded_shape(rows: int, width: int, expected: tuple[int, int]) -> None:
    assert bounded_shape(rows, width, batch_size=16, max_length=64) == expected


def test_rows_never_exceed_the_batch_size() -> None:
    assert bounded_shape(1, 20, batch_size=2, max_length=64) == (2, 32)


def test_tokens_never_exceed_the_max_length() -> None:
    assert bounded_shape(4, 70, batch_size=16, max_length=72) == (4, 72)


def test_every_micro_batch_of_up_to_sixteen_posts_fits_sixteen_shapes() -> None:
    shapes = {bounded_shape(r, w, batch_size=16, max_length=64) for r in range(1, 17) for w in range(1, 65)}
    assert len(shapes) == 16
