"""A real worker stores posts in languages the model does not read unscored, and only English reaches the trends."""

from __future__ import annotations

import json

import pytest

from tests.support.data import ENGLISH, FRENCH, SPANISH
from tests.support.stack import Stack


@pytest.mark.timeout(600)  # a worker starts and scores
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
