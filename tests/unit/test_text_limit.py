"""The post text limit has one source: BRANDPULSE_MAX_TEXT_CHARS, applied the same by the worker's
validation and the inference API, whether it is lowered or raised above its 10,000 default."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import ValidationError

from streams.services.api import ApiLimits, request_model
from streams.core.brand_rules import BrandResolver
from streams.core.schemas import DEFAULT_MAX_TEXT_CHARS, MAX_TEXT_CHARS_BOUND, Post, ScoredPost
from streams.core.settings import Settings
from streams.worker.validation import Rejected, parse_post

RESOLVER = BrandResolver.from_file(None)


def _raw(text: str) -> bytes:
    return json.dumps({"post_id": "p1", "text": text, "created_at": "2025-01-01T00:00:00Z", "brand": RESOLVER.brands[0]}).encode()


def test_raising_the_setting_above_the_default_admits_longer_posts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRANDPULSE_MAX_TEXT_CHARS", "20000")
    settings = Settings()
    assert settings.max_text_chars == 20_000 > DEFAULT_MAX_TEXT_CHARS

    post = parse_post(_raw("late again " * 1500), RESOLVER, max_text_chars=settings.max_text_chars)  # 16,500 chars
    assert isinstance(post, Post) and len(post.text) > DEFAULT_MAX_TEXT_CHARS

    too_long = parse_post(_raw("x" * 20_001), RESOLVER, max_text_chars=settings.max_text_chars)
    assert isinstance(too_long, Rejected) and too_long.kind == "too_large" and "limit is 20000" in too_long.reason

    body = request_model(ApiLimits(max_text_chars=settings.max_text_chars))
    assert len(body.model_validate({"texts": ["y" * 20_000]}).texts[0]) == 20_000  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):
        body.model_validate({"texts": ["y" * 20_001]})


def test_lowering_the_setting_dead_letters_as_too_large_not_schema() -> None:
    rejected = parse_post(_raw("z" * 501), RESOLVER, max_text_chars=Settings(max_text_chars=500).max_text_chars)
    assert isinstance(rejected, Rejected) and rejected.kind == "too_large"


def test_one_default_and_one_bound() -> None:
    assert Settings().max_text_chars == ApiLimits().max_text_chars == DEFAULT_MAX_TEXT_CHARS
    with pytest.raises(ValidationError):
        Settings(max_text_chars=MAX_TEXT_CHARS_BOUND + 1)
    with pytest.raises(ValidationError):
        ApiLimits(max_text_chars=MAX_TEXT_CHARS_BOUND + 1)


def test_a_scored_post_at_the_bound_fits_a_default_kafka_message() -> None:
    now = dt.datetime.now(dt.timezone.utc)
    worst = ScoredPost(
        post_id="p" * 128, brand="b", platform="x", text="😀" * MAX_TEXT_CHARS_BOUND, created_at=now, ingested_at=now,
        label="negative", probs={"negative": 1.0, "neutral": 0.0, "positive": 0.0}, confidence=1.0, model_version="m/v1",
    )
    assert len(worst.model_dump_json().encode()) < Settings().max_message_bytes
