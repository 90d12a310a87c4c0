"""Language routing: English airline tweets are scored, other languages are not scored as English."""

from __future__ import annotations

from collections import Counter

from models.language import LanguageConfig, identify, identify_many, route, route_many
from tests.support.data import airline_rows


def test_real_airline_tweets_are_scored() -> None:
    rows = airline_rows()[::10]  # 1,464 real tweets
    verdicts = [route(None, r["text"]) for r in rows]
    actions = Counter(v.action for v in verdicts)
    # A few short tweets land on another language with some confidence; the rest is en or und.
    assert actions["score"] / len(rows) >= 0.97, actions
    assert Counter(v.lang for v in verdicts).most_common(1)[0][0] == "en"


def test_other_languages_are_stored_unscored_or_dead_lettered() -> None:
    spanish = "@united mi maleta se perdió otra vez y nadie contesta el teléfono"
    assert route(None, spanish) .lang == "es" and route(None, spanish).action == "store-unscored"
    japanese = "@united 飛行機が三時間も遅れて、乗り継ぎに間に合わなかった"
    assert route(None, japanese).lang == "ja"
    strict = LanguageConfig(unsupported="dead-letter")
    assert route(None, "Vielen Dank für den tollen Flug nach Berlin gestern", strict).action == "dead-letter"
    # The producer's language wins, normalised; a supported one is scored.
    assert route("en-US", spanish).action == "score" and route("ES", "anything").action == "store-unscored"


def test_names_links_and_emoji_do_not_decide_the_language() -> None:
    assert identify("@VirginAmerica 😍😍 http://t.co/xyz #travel") == ("und", 0.0)
    assert route(None, "@JetBlue ok").action == "score"


def test_a_batch_is_identified_as_each_post_alone() -> None:
    """The worker's batched path (one sparse product for the batch) gives route()'s answers."""
    texts = [r["text"] for r in airline_rows()[::25]] + [
        "@united mi maleta se perdió otra vez y nadie contesta el teléfono", "@united 飛行機が三時間も遅れて",
        "Vielen Dank für den tollen Flug nach Berlin gestern", "", "@JetBlue ok", "THANK YOU SO MUCH FOR THE UPGRADE",
    ]
    alone = [identify(t) for t in texts]
    batched = identify_many(texts)
    assert [lang for lang, _ in batched] == [lang for lang, _ in alone]
    assert max(abs(a - b) for (_, a), (_, b) in zip(alone, batched)) < 1e-4
    langs = [None, "en-US", None, "ES"] * (len(texts) // 4)
    verdicts = route_many(langs, texts[:len(langs)])
    assert [(v.lang, v.source, v.action) for v in verdicts] == [
        (v.lang, v.source, v.action) for v in (route(lang, t) for lang, t in zip(langs, texts))]
