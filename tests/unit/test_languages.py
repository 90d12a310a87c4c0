"""Posts in a language the model does not read are stored with their language and left unscored (or
dead-lettered), never scored as if they were English; posts without ``lang`` get one."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from models.language import LanguageConfig
from streams.worker.pipeline import RawRecord, route_languages
from streams.core.schemas import Post
from tests.conftest import Stack

T0 = dt.datetime(2015, 2, 24, 11, 0, tzinfo=dt.timezone.utc)
ENGLISH = ["@united lost my bag again and nobody at the desk will help", "@united great crew on the flight to Denver today",
           "@united why is the wifi never working on these planes"]
SPANISH = ["@united perdieron mi maleta otra vez y nadie en el mostrador me ayuda", "@united el vuelo salió con tres horas de retraso y nadie nos dio ninguna explicación"]
FRENCH = ["@united vous avez perdu ma valise et personne ne répond au téléphone"]


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


@pytest.mark.e2e
@pytest.mark.slow
def test_worker_stores_other_languages_unscored(stack: Stack) -> None:
    posts = [{"post_id": f"l{i}", "text": t, "created_at": "2015-02-24T11:00:00Z"} for i, t in enumerate(ENGLISH + SPANISH + FRENCH)]
    worker = stack.worker().start()
    stack.produce([json.dumps(p).encode() for p in posts])
    on_topic = [json.loads(v) for v in stack.consume_all("scored", len(posts), timeout_s=120)]
    worker.stop()
    assert sorted(r["model_role"] for r in on_topic) == ["champion"] * 3 + ["unscored"] * 3
    store = stack.store()
    assert store.scalar("SELECT count() FROM brandpulse.posts") == len(ENGLISH)  # trends and detectors see English only
    rows = store.query("SELECT lang, count() n FROM brandpulse.scored_posts FINAL WHERE model_role = 'unscored' GROUP BY lang ORDER BY lang")
    assert rows == [{"lang": "es", "n": 2}, {"lang": "fr", "n": 1}]
    assert {r["lang"] for r in store.query("SELECT lang FROM brandpulse.posts")} == {"en"}
