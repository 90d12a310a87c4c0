"""Validation is total: any bytes, any JSON → a Post or a Rejected, and either one can be stored.

Hypothesis generates the hostile inputs (lone surrogates, deep nesting, huge numbers, NaN, odd types);
what is accepted round-trips through real chDB, and every rejection's dead letter is stored too.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.core.brand_rules import BrandResolver
from streams.store.clickhouse import ClickHouseStore
from streams.worker.pipeline import RawRecord, reject
from streams.core.schemas import Post, ScoredPost
from streams.worker.validation import Rejected, parse_post

R = BrandResolver.from_file(None)
ANY_CHAR = st.characters(exclude_categories=())  # surrogates included
ANY_TEXT = st.text(ANY_CHAR, max_size=40)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4), max_leaves=30)
POSTS = st.fixed_dictionaries(
    {
        "post_id": st.one_of(ANY_TEXT, st.integers(), st.just("p1")),
        "text": st.one_of(st.builds(lambda t: "@united " + t, ANY_TEXT), ANY_TEXT, JSON_VALUES),
        "created_at": st.one_of(st.datetimes(dt.datetime(2000, 1, 2), dt.datetime(2026, 1, 1), timezones=st.just(dt.timezone.utc)).map(dt.datetime.isoformat), ANY_TEXT, st.integers()),
    },
    optional={
        "author": st.one_of(ANY_TEXT, JSON_VALUES),
        "lang": ANY_TEXT,
        "platform": ANY_TEXT,
        "brand": st.one_of(st.sampled_from(["United", "delta", "Acme"]), ANY_TEXT),
        "metadata": JSON_VALUES,
    },
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = ClickHouseStore(f"chdb://{tmp_path_factory.mktemp('props')}")
    s.ensure_schema()
    yield s
    s.close()


def _store_outcome(store: ClickHouseStore, raw: bytes, outcome: Post | Rejected, offset: int) -> None:
    rec = RawRecord(raw, b"k\xff" * 3, "posts", 0, offset)
    if isinstance(outcome, Rejected):
        dl = reject(rec, outcome.kind, outcome.reason, outcome.post_id)
        store.insert_dead_letters([dl])
        assert len(dl.model_dump_json()) < 200_000
        return
    row = ScoredPost(
        post_id=outcome.post_id, brand=outcome.brand or "unknown", platform=outcome.platform, author=outcome.author,
        lang=outcome.lang, text=outcome.text, created_at=outcome.created_at,
        ingested_at=dt.datetime.now(dt.timezone.utc),  # stored now: a post from 2001 is not past its retention
        label="neutral", probs={"negative": 0.2, "neutral": 0.6, "positive": 0.2}, confidence=0.6, model_version="prop/1",
    )
    store.insert_scored([row])
    back = store.query(
        "SELECT post_id, text, author, brand, lang FROM brandpulse.scored_posts WHERE post_id = {id:String} AND model_version = 'prop/1'",
        {"id": outcome.post_id},
    )
    assert {"post_id": row.post_id, "text": row.text, "author": row.author, "brand": row.brand, "lang": row.lang} in back


_offset = iter(range(10**9))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=3000))
def test_any_bytes(store, raw):
    outcome = parse_post(raw, R, max_text_chars=10_000)
    assert isinstance(outcome, (Post, Rejected))
    _store_outcome(store, raw, outcome, next(_offset))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record=POSTS | JSON_VALUES, keep=st.booleans())
def test_any_json(store, record, keep):
    raw = json.dumps(record).encode()  # ensure_ascii: lone surrogates travel as \\udXXX escapes
    outcome = parse_post(raw, R, max_text_chars=10_000, keep_unknown_brand=keep)
    assert isinstance(outcome, (Post, Rejected))
    _store_outcome(store, raw, outcome, next(_offset))
