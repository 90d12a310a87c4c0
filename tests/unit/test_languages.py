"""Posts in a language the model does not read are stored with their language and left unscored (or
dead-lettered), never scored as if they were English; posts without ``lang`` get one."""

from __future__ import annotations

import datetime as dt

from models.language import LanguageConfig
from streams.worker.pipeline import RawRecord, route_languages
from streams.core.schemas import Post
from tests.support.data import ENGLISH, FRENCH, SPANISH

T0 = dt.datetime(2015, 2, 24, 11, 0, tzinfo=dt.timezone.utc)


def _items(texts: list[str], lang: str | None = None) -> list[tuple[RawRecord, Post]]:
    return [(RawRecord(t.encode(), None, "posts", 0, i), Post(post_id=f"{lang}{i}{t[:5]}", text=t, created_at=T0, lang=lang, brand="United"))
            for i, t in enumerate(texts)]


def test_languages_are_detected_and_routed() -> None:
    items = _items(ENGLISH) + _items(SPANISH) + _items(FRENCH) + _items(["@united ✈️ #fail"]) + _items(["vuelo"], lang="es-MX")
    to_score, unscored, dead = route_languages(items, LanguageConfig(), T0)
    assert [p.lang for _, p in to_score] == ["en", "en", "en", "und"]  # too short to tell: scored, not refused
    assert sorted(r.lang for r in unscored) == ["es", "es", "es", "fr"] and not dead
    assert all(r.model_role == "unscored" and r.label == "unscored" and not r.probs for r in unscored)
    _, unscored, dead = route_languages(items, LanguageConfig(unsupported="dead-letter"), T0)
    assert not unscored and [d.error_kind for d in dead] == ["unsupported_language"] * 4
    assert "'es'" in dead[0].reason and "(en)" in dead[0].reason
