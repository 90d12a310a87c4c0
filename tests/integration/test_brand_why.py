"""`brandpulse why` on chDB without a worker: the on-demand "why" of an injected crisis, from ClickHouse."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.scenarios import inject_crisis, load_airline
from streams.cli.main import create_cli
from streams.store.clickhouse import ClickHouseStore
from streams.core.schemas import ScoredPost
from tests.support.data import AIRLINE_CSV, needs_shared_data
from tests.support.net import free_port

UTC = dt.timezone.utc
CRISIS = dt.datetime(2015, 2, 20, 14, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def wide_tables() -> Iterator[None]:
    """Tables as a 160-column terminal shows them, whatever width the test run has (headers wrap when narrow)."""
    from streams.cli import queries

    queries.console.width = 160
    yield
    queries.console.width = None  # type: ignore[assignment]  # back to the terminal's width


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    needs_shared_data()
    state = tmp_path / "state"
    monkeypatch.setenv("BRANDPULSE_DATA_DIR", str(state))
    monkeypatch.setenv("BRANDPULSE_WEB_PORT", str(free_port()))  # no worker there: the CLI opens chDB itself
    monkeypatch.setenv("COLUMNS", "200")
    stream, _ = inject_crisis(load_airline(AIRLINE_CSV), "United", "Lost Luggage", CRISIS, n=250, minutes=10)
    now = dt.datetime.now(UTC)
    rows = [ScoredPost(post_id=p.post_id, brand=p.brand, platform="twitter", text=p.text, created_at=p.created_at,
                       ingested_at=now, label=p.label, probs={p.label: 0.9}, confidence=0.9, model_version="m/1")
            for p in stream if CRISIS - dt.timedelta(hours=12) <= p.created_at < CRISIS + dt.timedelta(minutes=10)]
    store = ClickHouseStore(f"chdb://{state / 'clickhouse'}")
    store.ensure_schema()
    store.insert_scored(rows)
    store.close()
    yield state


def test_why_names_the_crisis_topic(data_dir: Path) -> None:
    args = ["why", "--brand", "United", "--since", "10m", "--until", "2015-02-20T14:10:00"]
    out = CliRunner().invoke(create_cli(), [*args, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["posts"] >= 250 and data["baseline_posts"] > 100
    assert {"bag", "bags", "luggage", "lost luggage"} & {t["token"] for t in data["terms"][:5]}, data["terms"]
    assert 3 <= len(data["examples"]) <= 5
    text = CliRunner().invoke(create_cli(), [*args, "--focus", "negative"])
    assert text.exit_code == 0 and "terms" in text.output and "luggage" in text.output
    bad = CliRunner().invoke(create_cli(), ["why", "--brand", "United", "--since", "soon"])
    assert bad.exit_code != 0 and "bad duration" in bad.output


def test_share_of_voice_of_the_airline_group(data_dir: Path) -> None:
    out = CliRunner().invoke(create_cli(), ["share", "--group", "US airlines", "--since", "12h", "--bucket", "6h",
                                   "--until", "2015-02-20T14:10:00", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["brands"][0] == "United" and len(data["buckets"]) == 3  # 6-h buckets from 00:00
    for bucket in data["buckets"]:
        shares = {s["brand"]: s for s in bucket["brands"]}
        assert abs(sum(s["share"] for s in shares.values()) - 1) < 1e-9
        assert sum(s["posts"] for s in shares.values()) == bucket["posts"]
    crisis = {s["brand"]: s for s in data["buckets"][-1]["brands"]}["United"]
    assert crisis["negative_share_of_group"] > crisis["share"]  # the injected complaints
    table = CliRunner().invoke(create_cli(), ["share", "--since", "12h", "--bucket", "6h", "--until", "2015-02-20T14:10:00"])
    assert table.exit_code == 0 and "Southwest" in table.output
    bad = CliRunner().invoke(create_cli(), ["share", "--group", "EU airlines"])
    assert bad.exit_code != 0 and "unknown brand group" in bad.output


def test_voices_count_reposts_once_like_the_detectors(data_dir: Path) -> None:
    from drift.brand.voices import fingerprint

    out = CliRunner().invoke(create_cli(), ["voices", "--brand", "United", "--since", "10h", "--bucket", "1d",
                                   "--until", "2015-02-20T14:10:00", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    store = ClickHouseStore(f"chdb://{data_dir / 'clickhouse'}")
    try:
        texts = [r["text"] for r in store.query(
            "SELECT text FROM brandpulse.posts WHERE brand = 'United' AND created_at >= '2015-02-20 04:10:00' AND created_at < '2015-02-20 14:10:00'")]
    finally:
        store.close()
    # The SQL normalisation and the detectors' (drift.brand.voices) agree on the real tweets.
    [bucket] = data["buckets"]
    assert bucket["posts"] == len(texts) and bucket["distinct_texts"] == len({fingerprint(t) for t in texts}) < len(texts)
    assert bucket["languages"] == {"?": len(texts)}  # the airline CSV has no lang column
    table = CliRunner().invoke(create_cli(), ["voices", "--brand", "United", "--since", "10h", "--bucket", "1d", "--until", "2015-02-20T14:10:00"])
    assert table.exit_code == 0 and "distinct texts" in table.output and "? 100%" in table.output
