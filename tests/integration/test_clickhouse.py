"""The ClickHouse sink on real chDB: idempotent writes, trends, and surviving an outage."""

import base64
import datetime as dt
import threading

import pytest

from streams.store.clickhouse import ClickHouseStore, server_options
from streams.store.open import redact
from streams.store.clickhouse import is_refused
from streams.worker.pipeline import BatchResult, RawRecord, store_dead_letters, store_sync
from streams.worker.refusals import write_or_dead_letter
from streams.core.schemas import Alert, DeadLetter, HumanLabel, ScoredPost
from streams.store.open import is_embedded, open_store
from streams.store.protocol import Store
from streams.views.trends import query_trends
from tests.support.waiting import wait_for

T0 = dt.datetime(2015, 2, 24, 11, 0, tzinfo=dt.timezone.utc)


def row(i: int, brand: str = "United", label: str = "negative", minute: int = 0, role: str = "champion") -> ScoredPost:
    probs = {"negative": 0.1, "neutral": 0.1, "positive": 0.1}
    probs[label] = 0.8
    return ScoredPost(
        post_id=str(i), brand=brand, platform="twitter", text=f"post {i}", created_at=T0 + dt.timedelta(minutes=minute),
        ingested_at=dt.datetime.now(dt.timezone.utc), label=label, probs=probs, confidence=0.8, model_version="m/1",
        model_role=role,
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = ClickHouseStore(f"chdb://{tmp_path_factory.mktemp('ch')}")
    s.ensure_schema()
    s.ensure_schema()  # idempotent
    yield s
    s.close()


def test_redelivered_rows_count_once_everywhere(store):
    rows = [row(i, label="negative" if i % 4 == 0 else "positive", minute=i % 30) for i in range(100)]
    store.insert_scored(rows)
    store.insert_scored(rows[:40])  # a crash redelivered the first 40
    store.insert_scored([row(1000 + i, role="shadow") for i in range(10)])  # shadow rows never count
    assert store.scalar("SELECT count() FROM brandpulse.posts") == 100
    assert store.post_counts() == {"United": 100}
    t = query_trends(store, brand="United", since="1h", bucket="15m", until="2015-02-24T12:00:00")
    first = [r for r in rows if r.created_at.minute < 15]
    assert [b["posts"] for b in t["buckets"]] == [len(first), 100 - len(first)]
    assert sum(b["negative"] for b in t["buckets"]) == 25
    neg_first = sum(r.label == "negative" for r in first)
    # The share trends show is the mean calibrated p(negative); the label counts follow the alerting rule.
    assert t["buckets"][0]["flagged_negative_share"] == pytest.approx(neg_first / len(first))
    expected_neg = (0.8 * neg_first + 0.1 * (len(first) - neg_first)) / len(first)
    assert t["buckets"][0]["negative_share"] == pytest.approx(expected_neg, abs=1e-6)
    assert sum(t["buckets"][0]["expected_share"].values()) == pytest.approx(1.0, abs=1e-6)
    assert t["buckets"][0]["mean_confidence"] == pytest.approx(0.8, abs=1e-6)
    latest = query_trends(store, brand="United", since="30m", bucket="30m", until="latest")
    assert latest["buckets"][0]["posts"] == 100


def test_trends_reject_bad_buckets(store):
    with pytest.raises(ValueError, match="whole number of minutes"):
        query_trends(store, brand=None, bucket="90s")


def test_writes_wait_out_an_outage_without_loss(store):
    """Make the table genuinely unavailable (DETACH), write, bring it back: every row lands once."""
    rows = [row(5000 + i, brand="Delta") for i in range(50)]
    store.query("DETACH TABLE brandpulse.scored_posts")
    done = threading.Event()
    failures: list[int] = []  # the retry loop asks whether to stop after each failed attempt

    def should_stop() -> bool:
        failures.append(1)
        return False

    t = threading.Thread(target=lambda: (store_sync(store, BatchResult(scored=rows), should_stop), done.set()))
    t.start()
    wait_for(lambda: len(failures) >= 3, 30, "three failed attempts while the table is detached")
    assert not done.is_set(), "the write must keep retrying while ClickHouse is unavailable"
    store.query("ATTACH TABLE brandpulse.scored_posts")
    t.join(60)
    assert done.is_set()
    assert store.post_counts()["Delta"] == 50


def test_rows_the_store_refuses_are_isolated_and_dead_lettered(store):
    """A row ClickHouse cannot take (built past validation, which repairs such text) costs only itself."""
    rows = [row(7000 + i, brand="JetBlue") for i in range(20)]
    rows[7] = rows[7].model_copy(update={"text": "half an emoji \ud83d"})
    rows.append(row(7007, brand="JetBlue", role="shadow").model_copy(update={"text": "\udfff"}))
    sources = {r.post_id: RawRecord(f"raw {r.post_id}".encode(), None, "posts", 3, 7000 + i) for i, r in enumerate(rows[:20])}
    result = BatchResult(scored=rows[:20], shadow=rows[20:], sources=sources)
    store_sync(store, result, lambda: False)
    assert store.post_counts()["JetBlue"] == 19
    assert [r.post_id for r in result.scored] == [r.post_id for r in rows[:20] if r.post_id != "7007"]
    assert [(d.error_kind, d.post_id, d.offset) for d in result.dead] == [("storage_rejected", "7007", 7007)]
    stored = store.query("SELECT error_kind, reason FROM brandpulse.dead_letters FINAL WHERE post_id = '7007'")
    assert stored[0]["error_kind"] == "storage_rejected" and "surrogates" in stored[0]["reason"]


def test_a_refused_dead_letter_is_stored_without_its_bytes(store):
    bad = DeadLetter(reason="r", error_kind="schema", source_topic="posts", partition=1, offset=99, value_b64="eA==", post_id="x\ud800")
    dead = [bad]
    store_dead_letters(store, dead, lambda: False)
    assert dead[0].post_id is None and dead[0].value_b64 == "" and "original bytes dropped" in dead[0].reason
    assert store.scalar("SELECT count() FROM brandpulse.dead_letters FINAL WHERE partition = 1 AND offset = 99") == 1


def test_unavailable_is_told_apart_from_refused(store):
    store.query("DETACH TABLE brandpulse.alerts")
    try:
        with pytest.raises(Exception) as unavailable:
            store.query("SELECT * FROM brandpulse.alerts")
    finally:
        store.query("ATTACH TABLE brandpulse.alerts")
    assert not is_refused(unavailable.value)
    assert is_refused(UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"))


def test_redact_hides_passwords():
    assert redact("http://bp:s3cret@ch:8123") == "http://bp:***@ch:8123"
    assert "s3cret" not in redact("https://u:s3cret@h")


def test_open_store_picks_the_backend_by_dsn_scheme(store):
    opened = open_store(store.dsn)
    try:
        assert isinstance(opened, ClickHouseStore) and opened.brands() == store.brands()
    finally:
        opened.close()
    assert store.post_counts()  # closing one handle leaves the embedded engine to the others
    protocol = {name for name in vars(Store) if not name.startswith("_")}
    assert protocol <= {name for name in dir(ClickHouseStore) if callable(getattr(ClickHouseStore, name))}
    with pytest.raises(ValueError, match=r"unknown store DSN scheme 'postgres'.*chdb:///abs/dir.*http\(s\)://") as err:
        open_store("postgres://user:s3cret@db:5432/brandpulse")
    assert "s3cret" not in str(err.value)
    # Only the embedded store is owned by one process; other processes reach it through topics.
    assert is_embedded(store.dsn) and not is_embedded("https://user:pw@ch.example:8443")


def test_buckets_without_expected_shares_fall_back_to_label_counts():
    from streams.store.protocol import TrendRow
    from streams.views.trends import expected_shares

    nan = float("nan")
    old = TrendRow(T0, 10, 4, 5, 1, 0.8, nan, nan, nan)
    assert expected_shares(old) == {"negative": 0.4, "neutral": 0.5, "positive": 0.1}
    new = TrendRow(T0, 10, 4, 5, 1, 0.8, 0.3, 0.5, 0.2)
    assert expected_shares(new) == {"negative": 0.3, "neutral": 0.5, "positive": 0.2}


def test_monitoring_rows_the_store_refuses_are_dead_lettered_once_each(store):
    def alert(alert_id: str, message: str) -> Alert:
        return Alert(alert_id=alert_id, kind="sentiment_shift", detector="chi2", statistic=0.3, threshold=0.1,
                     window=500, model_version="m/1", message=message)

    alerts = [alert("ok-1", "fine"), alert("bad-1", "lone \ud800"), alert("bad-2", "another \udfff")]
    labels = [HumanLabel(post_id="lab-ok", label="negative", annotator="a"),
              HumanLabel(post_id="lab-bad", label="negative", annotator="a", text="x\ud800")]
    for _ in range(2):  # a redelivered batch is refused again and lands on the same dead letters
        dead = write_or_dead_letter(store, store.insert_alerts, alerts, topic="t.alerts", what="alert")
        dead += write_or_dead_letter(store, store.insert_human_labels, labels, topic="t.labels", what="human label")
        assert [(d.error_kind, d.source_topic, d.post_id) for d in dead] == [
            ("storage_rejected", "t.alerts", None), ("storage_rejected", "t.alerts", None),
            ("storage_rejected", "t.labels", "lab-bad"),
        ]
    assert store.scalar("SELECT count() FROM brandpulse.alerts FINAL WHERE alert_id LIKE '%-1' OR alert_id LIKE '%-2'") == 1
    assert store.scalar("SELECT count() FROM brandpulse.human_labels FINAL WHERE post_id LIKE 'lab-%'") == 1
    stored = store.query(
        "SELECT source_topic, partition, reason, value_b64 FROM brandpulse.dead_letters FINAL "
        "WHERE source_topic IN ('t.alerts', 't.labels') ORDER BY source_topic, value_b64"
    )
    assert [(r["source_topic"], r["partition"]) for r in stored] == [("t.alerts", -1), ("t.alerts", -1), ("t.labels", -1)]
    assert all("ClickHouse refused the" in r["reason"] and "surrogates" in r["reason"] for r in stored)
    assert any(b"bad-1" in base64.b64decode(r["value_b64"]) for r in stored)  # what was refused is kept


def test_server_url_carries_its_tls_files():
    options = server_options("https://bp:pw@ch.example:8443?ca_cert=/etc/ca.pem&client_cert=/c.pem&client_cert_key=/k.pem")
    assert options == {"host": "ch.example", "port": 8443, "username": "bp", "password": "pw", "secure": True,
                       "ca_cert": "/etc/ca.pem", "client_cert": "/c.pem", "client_cert_key": "/k.pem"}


def test_server_url_refuses_tls_files_without_https():
    with pytest.raises(ValueError, match="need an https://"):
        server_options("http://ch.example:8123?ca_cert=/etc/ca.pem")


def test_server_url_refuses_unknown_parameters():
    with pytest.raises(ValueError, match="unknown ClickHouse URL parameters"):
        server_options("https://ch.example?cafile=/etc/ca.pem")


def test_a_native_abort_in_a_process_embedding_chdb_ends_it(tmp_path):
    """chDB's own fatal-signal handlers froze such a process for ever (3 of 3 before the store put the defaults back)."""
    import signal
    import subprocess
    import sys

    code = ("import os; from streams.store.clickhouse import ClickHouseStore\n"
            f"ClickHouseStore('chdb://{tmp_path}').ensure_schema()\n"
            "os.abort()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert done.returncode == -signal.SIGABRT
