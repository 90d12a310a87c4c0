"""Retention and erasure in the store, on real chDB: TTLs in the schema, and an erased person gone from
every table (found from system.tables, so a table added later is searched too), audited without content."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Iterator

import pytest

from streams.core.schemas import Alert, DeadLetter, HumanLabel, LabelRequest, ScoredPost
from streams.core.settings import Retention, Settings
from streams.store.clickhouse import ClickHouseStore
from streams.store.clickhouse_schema import INTERNAL_TABLES, table_ttls
from streams.store.protocol import ErasureRequest, erase_everywhere, sha256_hex

T0 = dt.datetime(2015, 2, 24, 11, 0, tzinfo=dt.timezone.utc)  # a replayed corpus: years before it was stored
NOW = dt.datetime.now(dt.timezone.utc)
# The person who asks, as feeds spell them, and everything of theirs a table could hold.
SPELLINGS = ("@JDoe", "jdoe", "JDOE")
THEIR_POSTS = ("jd-1", "jd-2", "jd-3")
THEIR_TRACES = ("jdoe", *THEIR_POSTS, "jd-9", "secret words")
VIEWS = ("View", "MaterializedView")


def scored(post_id: str, author: str, minute: int, role: str = "champion", ingested_at: dt.datetime = NOW) -> ScoredPost:
    text = f"secret words of {post_id}" if post_id.startswith("jd") else f"an ordinary post {post_id}"
    return ScoredPost(
        post_id=post_id, brand="United", platform="twitter", author=author, text=text,
        created_at=T0 + dt.timedelta(minutes=minute), ingested_at=ingested_at, label="negative",
        probs={"negative": 0.8, "neutral": 0.1, "positive": 0.1}, confidence=0.8, model_version="m/1", model_role=role,
    )


def dead_letter(offset: int, raw: bytes, key: bytes | None = None, post_id: str | None = None) -> DeadLetter:
    return DeadLetter(reason="schema", error_kind="schema", source_topic="posts", partition=0, offset=offset,
                      key_b64=base64.b64encode(key).decode() if key else None, value_b64=base64.b64encode(raw).decode(),
                      post_id=post_id)


def fill(store: ClickHouseStore) -> None:
    """The person's posts in every table, next to another author's in the same minutes."""
    store.insert_scored([scored(p, SPELLINGS[i], minute=i) for i, p in enumerate(THEIR_POSTS)]
                        + [scored("jd-1", "@JDoe", minute=0, role="shadow")]
                        + [scored(f"ot-{i}", "other", minute=i) for i in range(3)])
    store.insert_label_requests([
        LabelRequest(post_id=p, brand="United", text=f"secret words of {p}" if p == "jd-2" else "an ordinary post",
                     predicted_label="negative", confidence=0.5, model_version="m/1", reason="flyback")
        for p in ("jd-2", "ot-1")])
    store.insert_human_labels([HumanLabel(post_id=p, label="negative", annotator="alice", text="secret words" if p == "jd-2" else None)
                               for p in ("jd-2", "ot-1")])
    store.insert_dead_letters([
        dead_letter(1, json.dumps({"post_id": "jd-9", "author": "jdoe", "text": "secret words", "created_at": "never"}).encode()),
        dead_letter(2, b"\xff\xfe not json at all", key=b"jd-3"),
        dead_letter(3, json.dumps({"post_id": "ot-9", "author": "other", "text": "fine"}).encode(), post_id="ot-9"),
    ])
    store.insert_alerts([
        Alert(alert_id="a-1", kind="brand_volume_spike", detector="volume", statistic=9, threshold=3, brand="United",
              model_version="m/1", example_post_ids=["jd-1", "ot-1"], message="United volume up. Mostly about: @jdoe, #fail"),
        Alert(alert_id="a-2", kind="brand_volume_spike", detector="volume", statistic=9, threshold=3, brand="United",
              model_version="m/1", example_post_ids=["ot-2"], message="United volume up. Mostly about: @other"),
    ])


@pytest.fixture(scope="module")
def chdb_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"chdb://{tmp_path_factory.mktemp('erase')}"  # chDB opens one path per process: a database per test


@pytest.fixture
def store(chdb_dsn: str) -> Iterator[ClickHouseStore]:
    s = ClickHouseStore(chdb_dsn, database=f"e{uuid.uuid4().hex[:10]}")
    s.ensure_schema()
    yield s
    s.close()


@pytest.fixture
def filled(store: ClickHouseStore) -> ClickHouseStore:
    fill(store)
    return store


def erase(store: ClickHouseStore, kind: str = "author", identifier: str = "@jdoe", blocked: list[str] | None = None):  # type: ignore[no-untyped-def]
    request = ErasureRequest(kind=kind, identifier=identifier, operator="dpo, ticket DSR-1")  # type: ignore[arg-type]
    return erase_everywhere(store, request, (blocked if blocked is not None else []).extend)


def tables(store: ClickHouseStore) -> list[str]:
    """Every table of the database that keeps rows, from the server's own catalogue."""
    rows = store.query("SELECT name FROM system.tables WHERE database = {db:String} AND engine NOT IN {views:Array(String)}",
                       {"db": store.db, "views": list(VIEWS)})
    return sorted(r["name"] for r in rows)


def rows_naming(store: ClickHouseStore, needles: tuple[str, ...]) -> dict[str, int]:
    """Rows per table in which any column (base64 columns decoded) holds any needle, case-insensitively.

    Aggregate-state columns hold hashes, not text: the per-minute counts are checked on their own."""
    found = {}
    for table in tables(store):
        columns = store.query("SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}",
                              {"db": store.db, "t": table})
        texts = []
        for c in columns:
            if c["type"].startswith("AggregateFunction"):
                continue
            text = f"ifNull(toString(`{c['name']}`), '')"
            texts.append(f"tryBase64Decode({text})" if c["name"].endswith("_b64") else text)
            texts.append(text)
        where = " OR ".join(f"multiSearchAnyCaseInsensitiveUTF8({t}, {{needles:Array(String)}})" for t in texts) or "0"
        found[table] = int(store.scalar(f"SELECT count() FROM {store.db}.`{table}` WHERE {where}", {"needles": list(needles)}))
    return found


# ------------------------------------------------------------------ retention


def test_every_table_with_rows_has_its_retention_in_show_create_table(store: ClickHouseStore) -> None:
    ttls = {t: table_ttls(Retention())[t] for t in tables(store) if t not in INTERNAL_TABLES}
    shown = {t: f"TTL {ttls[t]}" in store.scalar(f"SHOW CREATE TABLE {store.db}.{t}") for t in ttls}
    assert shown == {t: True for t in ttls} and len(shown) == 6


def test_retention_settings_reach_the_schema(store: ClickHouseStore) -> None:
    store.ensure_schema(Settings(retention_posts_days=7, retention_dead_letters_days=0).retention)
    shown = [store.scalar(f"SHOW CREATE TABLE {store.db}.{t}") for t in ("scored_posts", "dead_letters")]
    assert ("TTL toDateTime(ingested_at) + toIntervalDay(7)" in shown[0], "TTL" in shown[1]) == (True, False)


def test_a_changed_retention_is_applied_once(store: ClickHouseStore) -> None:
    def ttl_mutations() -> int:
        return int(store.scalar("SELECT count() FROM system.mutations WHERE database = {db:String} AND command LIKE '%TTL%'",
                                {"db": store.db}))

    counts = [ttl_mutations()]
    for _ in range(2):
        store.ensure_schema(Retention(posts_days=7))
        counts.append(ttl_mutations())
    assert counts == [0, 1, 1]


def test_tables_made_before_retention_get_it(store: ClickHouseStore) -> None:
    forever = Retention(**{name: 0 for name in Retention.model_fields})
    store.ensure_schema(forever)  # the schema as it was: no TTL, no stored_at
    for table in ("alerts", "brand_minute"):
        store.query(f"ALTER TABLE {store.db}.{table} DROP COLUMN stored_at")
    store.ensure_schema()
    shown = store.scalar(f"SHOW CREATE TABLE {store.db}.alerts")
    assert "TTL stored_at + toIntervalDay(365)" in shown


def test_rows_past_their_retention_are_deleted(store: ClickHouseStore) -> None:
    store.insert_scored([scored("old", "x", 0, ingested_at=NOW - dt.timedelta(days=91)), scored("new", "x", 0)])
    store.query(f"OPTIMIZE TABLE {store.db}.scored_posts FINAL")
    assert [r["post_id"] for r in store.query(f"SELECT post_id FROM {store.db}.scored_posts")] == ["new"]


# ------------------------------------------------------------------ erasure


def test_the_search_sees_the_person_before_erasure(filled: ClickHouseStore) -> None:
    found = rows_naming(filled, THEIR_TRACES)
    assert {t for t, n in found.items() if n} == {"alerts", "dead_letters", "human_labels", "label_queue", "scored_posts"}


def test_author_erasure_leaves_no_row_of_them_in_any_table(filled: ClickHouseStore) -> None:
    erase(filled)
    assert rows_naming(filled, THEIR_TRACES) == {t: 0 for t in tables(filled)}


def test_author_erasure_reports_rows_per_table(filled: ClickHouseStore) -> None:
    report = erase(filled)
    assert (report.rows, report.erasure_list, report.unhandled) == (
        {"alerts": 1, "brand_minute": 3, "dead_letters": 2, "human_labels": 1, "label_queue": 1, "scored_posts": 4}, 3, [])


def test_other_authors_keep_their_rows(filled: ClickHouseStore) -> None:
    erase(filled)
    kept = {t: filled.scalar(f"SELECT count() FROM {filled.db}.{t}") for t in ("scored_posts", "label_queue", "human_labels",
                                                                              "dead_letters", "alerts")}
    assert kept == {"scored_posts": 3, "label_queue": 1, "human_labels": 1, "dead_letters": 1, "alerts": 2}


def test_alerts_lose_the_posts_and_the_handle_only(filled: ClickHouseStore) -> None:
    erase(filled)
    alert = filled.query(f"SELECT example_post_ids, message FROM {filled.db}.alerts WHERE alert_id = 'a-1'")[0]
    assert alert == {"example_post_ids": ["ot-1"], "message": "United volume up. Mostly about: @[erased], #fail"}


def test_minute_aggregates_count_only_the_posts_that_remain(filled: ClickHouseStore) -> None:
    erase(filled)
    counts = filled.query(f"SELECT minute, uniqExactMerge(posts) AS n FROM {filled.db}.brand_minute GROUP BY minute ORDER BY minute")
    assert [c["n"] for c in counts] == [1, 1, 1]


def test_erasing_twice_reports_zero(filled: ClickHouseStore) -> None:
    erase(filled)
    again = erase(filled)
    assert (again.total, set(again.rows.values())) == (0, {0})


def test_the_audit_keeps_who_when_kind_and_a_hash_only(filled: ClickHouseStore) -> None:
    report = erase(filled)
    audit = filled.query(f"SELECT * FROM {filled.db}.erasures")
    assert audit == [{"erasure_id": report.erasure_id, "requested_at": audit[0]["requested_at"], "operator": "dpo, ticket DSR-1",
                      "kind": "author", "identifier_sha256": sha256_hex("jdoe"), "rows": report.rows, "erasure_list": 3}]


def test_the_audit_holds_nothing_erased(filled: ClickHouseStore) -> None:
    erase(filled)
    assert rows_naming(filled, THEIR_TRACES)["erasures"] == 0


def test_mutations_name_no_one(filled: ClickHouseStore) -> None:
    """ClickHouse keeps the text of recent mutations with the table: erasure's must not carry the person."""
    erase(filled)
    commands = filled.query("SELECT command FROM system.mutations WHERE database = {db:String}", {"db": filled.db})
    assert len(commands) >= 5 and [c for c in commands if any(t in c["command"].lower() for t in THEIR_TRACES)] == []


def test_post_erasure_removes_that_post_only(filled: ClickHouseStore) -> None:
    erase(filled, "post", "jd-2")
    left = filled.query(f"SELECT DISTINCT post_id FROM {filled.db}.scored_posts WHERE post_id LIKE 'jd-%' ORDER BY post_id")
    assert ([r["post_id"] for r in left], rows_naming(filled, ("jd-2",))) == (["jd-1", "jd-3"], {t: 0 for t in tables(filled)})


def test_a_dead_letter_is_found_by_its_numeric_post_id(store: ClickHouseStore) -> None:
    store.insert_dead_letters([dead_letter(1, b'{"post_id": 570306133677760513, "text": "x"}'),
                               dead_letter(2, b'{"post_id": 5703061336777605130, "text": "y"}')])
    erase(store, "post", "570306133677760513")
    assert [r["offset"] for r in store.query(f"SELECT offset FROM {store.db}.dead_letters")] == [2]


def test_a_table_erasure_does_not_know_is_reported(filled: ClickHouseStore) -> None:
    filled.query(f"CREATE TABLE {filled.db}.operators_notes (note String) ENGINE = MergeTree ORDER BY note")
    assert erase(filled).unhandled == ["operators_notes"]


def test_nothing_is_erased_when_the_erasure_list_cannot_be_written(filled: ClickHouseStore) -> None:
    def broker_down(ids: list[str]) -> None:
        raise ConnectionError("broker down")

    with pytest.raises(ConnectionError):
        erase_everywhere(filled, ErasureRequest(kind="author", identifier="jdoe", operator="dpo"), broker_down)
    assert filled.scalar(f"SELECT count() FROM {filled.db}.scored_posts") == 7


def test_a_post_only_queued_in_kafka_is_blocked_once(store: ClickHouseStore) -> None:
    blocked: list[str] = []
    first, second = erase(store, "post", "queued-only", blocked), erase(store, "post", "queued-only", blocked)
    assert (first.erasure_list, second.erasure_list, blocked) == (1, 0, ["queued-only"])


def test_the_request_never_shows_the_identifier() -> None:
    request = ErasureRequest(kind="author", identifier="@JDoe", operator="dpo")
    assert "jdoe" not in repr(request).lower()
