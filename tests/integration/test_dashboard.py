"""The dashboard on real chDB: data gathering, the standalone server, and the page in real headless Chromium."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from streams.core.brand_rules import BrandResolver
from streams.store.clickhouse import ClickHouseStore
from streams.services.dashboard import create_dashboard_app
from streams.views.dashboard import DashboardQuery, fit_window, gather_dashboard, render_dashboard, summarise_labelled
from streams.core.schemas import Alert, HumanLabel, LabelRequest, ScoredPost
from streams.core.settings import Settings
from tests.support.browser import CHROMIUM, SCREENSHOT_DIR, ServerThread, chromium
from tests.support.net import free_port

UTC = dt.timezone.utc
T0 = dt.datetime(2015, 2, 24, 9, 0, tzinfo=UTC)  # data window: 09:00-12:00


# ------------------------------------------------------------------ real chDB


def scored(i: int, brand: str, label: str, at: dt.datetime, version: str = "m/1", role: str = "champion") -> ScoredPost:
    probs = {"negative": 0.1, "neutral": 0.1, "positive": 0.1}
    probs[label] = 0.8
    return ScoredPost(
        post_id=f"{brand}-{i}", brand=brand, platform="twitter", text=f"{brand} post {i}", created_at=at,
        ingested_at=dt.datetime.now(UTC), label=label, probs=probs, confidence=0.8 if label != "neutral" else 0.55,
        model_version=version, model_role=role,  # type: ignore[arg-type]
    )


def fill(store: ClickHouseStore) -> None:
    """3 hours of two brands; United turns negative in its last hour, with a label-drift alert."""
    rows = []
    for minute in range(180):
        at = T0 + dt.timedelta(minutes=minute)
        for k in range(2):
            i = minute * 2 + k
            late = minute >= 120
            rows.append(scored(i, "United", "negative" if (late and k == 0) or i % 5 == 0 else ("positive" if k else "neutral"), at))
        rows.append(scored(minute, "Delta", "positive" if minute % 3 else "negative", at))
    store.insert_scored(rows)
    # The challenger shadows the first 20 United posts; its rows must not count in trends.
    store.insert_scored([scored(i, "United", "negative", T0 + dt.timedelta(minutes=i // 2), version="m/2", role="shadow") for i in range(20)])
    store.insert_alerts([
        Alert(alert_id="u1", kind="label_drift", detector="label_mix", statistic=0.3, threshold=0.1, brand="United",
              model_version="m/1", message="negative share rose to 60%", since=T0 + dt.timedelta(minutes=125)),
        Alert(alert_id="d1", kind="label_drift", detector="label_mix", statistic=0.2, threshold=0.1, brand="Delta",
              model_version="m/1", message="delta only", since=T0 + dt.timedelta(minutes=30)),
        Alert(alert_id="old", kind="confidence_drift", detector="adwin", statistic=-0.2, threshold=0.05, brand=None,
              model_version="m/1", message="before the window", since=T0 - dt.timedelta(days=1)),
    ])
    store.insert_label_requests([
        LabelRequest(post_id=f"United-{i}", brand="United", text="t", predicted_label="negative", confidence=0.5,
                     model_version="m/1", reason="flyback")
        for i in range(10)
    ])
    # Humans labelled posts 0..19 of United: negative for even ids, positive for odd ids.
    store.insert_human_labels([
        HumanLabel(post_id=f"United-{i}", label="negative" if i % 2 == 0 else "positive", annotator="ann")
        for i in range(20)
    ])


def expected_pairs(version: str) -> list[tuple[str, str]]:
    """(predicted, human) for the 20 labelled United posts, as fill() scored them."""
    pairs = []
    for i in range(20):
        human = "negative" if i % 2 == 0 else "positive"
        if version == "m/2":
            pred = "negative"
        else:
            pred = "negative" if i % 5 == 0 else ("positive" if i % 2 else "neutral")
        pairs.append((pred, human))
    return pairs


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseStore]:
    s = ClickHouseStore(f"chdb://{tmp_path_factory.mktemp('dash-ch')}")
    s.ensure_schema()
    fill(s)
    yield s
    s.close()


def test_gather_reads_trends_alerts_queue_and_labelled_metrics(store: ClickHouseStore) -> None:
    data = gather_dashboard(store, DashboardQuery(brand="united", since="3h", until="latest"), {"champion": "m/1", "challenger": "m/2"},
                            groups=BrandResolver.from_file(None).groups)
    assert data.query.brand == "United"  # the stored spelling
    assert data.brands == ["Delta", "United"]
    assert data.bucket == "5m" and len(data.buckets) == 36
    assert sum(b.posts for b in data.buckets) == 360  # shadow rows excluded
    last_hour = [b for b in data.buckets if b.start >= T0 + dt.timedelta(hours=2)]
    first_hour = [b for b in data.buckets if b.start < T0 + dt.timedelta(hours=1)]
    assert min(b.negative_share for b in last_hour) >= 0.5 > max(b.negative_share for b in first_hour)
    assert [a.alert_id for a in data.alerts] == ["u1"]  # Delta's and the out-of-window alert are not shown
    assert data.label_queue == 0  # all 10 requested posts were labelled
    assert data.newest == T0 + dt.timedelta(minutes=179)
    voices = data.brand_panels.voices
    assert voices is not None and (voices.posts, voices.distinct_texts, voices.authors) == (360, 360, 0)
    assert voices.languages == {"?": 360}  # these rows carry no lang
    shares = {r.brand: r for r in data.brand_panels.share}
    assert data.brand_panels.group == "US airlines" and shares["United"].posts == 360 and shares["Delta"].posts == 180
    assert shares["United"].share == pytest.approx(2 / 3) and sum(r.negative_share_of_group for r in shares.values()) == pytest.approx(1)
    champion, challenger = data.models
    want = summarise_labelled("champion", "m/1", [(p, h, 1) for p, h in expected_pairs("m/1")])
    assert champion == want and champion.labelled == 20
    assert challenger.version == "m/2" and challenger.labelled == 20
    assert challenger.accuracy == pytest.approx(0.5) and challenger.negative_recall == pytest.approx(1.0)

    everything = gather_dashboard(store, DashboardQuery(since="3h", until="latest", bucket="1h"))
    assert [b.posts for b in everything.buckets] == [180, 180, 180]
    assert {a.alert_id for a in everything.alerts} == {"u1", "d1"}
    assert {m.role: m.version for m in everything.models} == {"champion": "m/1", "challenger": "m/2"}


def test_label_queue_counts_only_unlabelled_posts(store: ClickHouseStore) -> None:
    store.insert_label_requests([
        LabelRequest(post_id=f"Delta-{i}", brand="Delta", text="t", predicted_label="positive", confidence=0.5,
                     model_version="m/1", reason="uncertain")
        for i in range(7)
    ])
    assert gather_dashboard(store, DashboardQuery(brand="Delta", since="3h")).label_queue == 7
    assert gather_dashboard(store, DashboardQuery(brand="United", since="3h")).label_queue == 0


def test_default_window_fits_the_data(store: ClickHouseStore) -> None:
    # 3 hours of data ending at 12:00: the default window is those 3 hours, not a fixed one.
    fitted = gather_dashboard(store, DashboardQuery(brand="United"))
    assert fitted.query.since is None and fitted.end == T0 + dt.timedelta(hours=3)
    assert fitted.end - fitted.start == dt.timedelta(minutes=180) and fitted.bucket == "5m"
    assert sum(b.posts for b in fitted.buckets) == 360 and fitted.buckets[0].start == T0
    assert '<option value="" selected>fit to the data</option>' in render_dashboard(fitted)
    # An explicit window is honoured, data or not.
    assert gather_dashboard(store, DashboardQuery(brand="United", since="7d")).start == T0 + dt.timedelta(hours=3) - dt.timedelta(days=7)
    # Data over ten days: the fitted window stops at a week; no data at all: six hours.
    long = ClickHouseStore(store.dsn, database="fit_window")  # chDB opens one path per process
    try:
        long.ensure_schema()
        assert fit_window(long, None, "latest") == "6h"
        long.insert_scored([scored(i, "Delta", "positive", T0 - dt.timedelta(days=i)) for i in range(10)])
        assert fit_window(long, "Delta", "latest") == f"{7 * 24 * 60}m"
        assert fit_window(long, "Delta", "2015-02-21T09:30") == f"{6 * 24 * 60 + 30}m"  # data before that end only
    finally:
        long.close()


# ------------------------------------------------------------------ real browser


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_dashboard_page_in_headless_chromium(store: ClickHouseStore, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    app = create_dashboard_app(settings, store=store, served=lambda: {"champion": "m/1", "challenger": "m/2"})
    with ServerThread(app, free_port()) as server:
        url = f"{server.url}/dashboard?brand=United&since=3h&until=latest&refresh=0"
        resp = httpx.get(url, timeout=30)
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
        dom = chromium(url, tmp_path / "profile-dom", "--dump-dom")
        assert dom.returncode == 0, dom.stderr[-2000:]
        SCREENSHOT_DIR.mkdir(exist_ok=True)
        png = SCREENSHOT_DIR / "dashboard.png"
        png.unlink(missing_ok=True)
        shot = chromium(url, tmp_path / "profile-png", f"--screenshot={png}")
        assert shot.returncode == 0, shot.stderr[-2000:]
    html = dom.stdout
    # The browser parsed the inline SVG into real elements: bars, the share line and the alert marker.
    assert len(re.findall(r'<rect class="bar bar-negative"', html)) == 36
    assert 'class="share-line"' in html and 'class="confidence-line"' in html
    assert html.count('class="alert-marker"') == 1 and "negative share rose to 60%" in html
    assert '<option value="United" selected="">United</option>' in html
    # Brand panels: voices vs raw mentions, the language mix, share of voice in the brand's group.
    assert 'id="voices"' in html and 'id="languages"' in html and 'id="share-of-voice"' in html
    assert re.search(r'<tr class="share-row selected"><td>United</td><td class="num">360</td><td class="num">66\.7%</td>', html)
    assert png.stat().st_size > 20_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_standalone_dashboard_reports_bad_parameters(store: ClickHouseStore, tmp_path: Path) -> None:
    app = create_dashboard_app(Settings(data_dir=tmp_path), store=store, served=lambda: None)
    with ServerThread(app, free_port()) as server:
        bad = httpx.get(f"{server.url}/dashboard?since=forever", timeout=30)
        assert bad.status_code == 400 and "bad duration" in bad.text
        data = httpx.get(f"{server.url}/dashboard/data?brand=Delta&since=3h", timeout=30).json()
        assert data["query"]["brand"] == "Delta" and sum(b["posts"] for b in data["buckets"]) == 180


def relayed(store: ClickHouseStore, tmp_path: Path, path: str, worker_token: str | None = None) -> httpx.Response:
    """``path`` asked of a dashboard over embedded chDB, which asks the worker: here a dashboard reading
    ``store`` directly stands in for the worker's web port (it serves the same /dashboard/data)."""
    worker_settings = Settings(data_dir=tmp_path / "worker", web_token=worker_token)
    worker_side = create_dashboard_app(worker_settings, store=store, served=lambda: None)
    with ServerThread(worker_side, free_port()) as worker:
        relay = create_dashboard_app(Settings(data_dir=tmp_path / "relay", web_port=int(worker.url.rsplit(":", 1)[1])))
        with ServerThread(relay, free_port()) as server:
            return httpx.get(server.url + path, timeout=30)


def test_dashboard_over_embedded_chdb_relays_the_workers_data(store: ClickHouseStore, tmp_path: Path) -> None:
    data = relayed(store, tmp_path, "/dashboard/data?brand=Delta&since=3h&until=latest").json()
    assert sum(b["posts"] for b in data["buckets"]) == 180


def test_dashboard_over_embedded_chdb_says_when_it_lacks_the_workers_token(store: ClickHouseStore, tmp_path: Path) -> None:
    resp = relayed(store, tmp_path, "/dashboard/data?since=3h", worker_token="t" * 32)
    assert resp.status_code == 503 and "give the dashboard the worker's BRANDPULSE_WEB_TOKEN" in resp.json()["error"]

def test_dashboard_over_embedded_chdb_says_when_the_worker_is_not_there(tmp_path: Path) -> None:
    relay = create_dashboard_app(Settings(data_dir=tmp_path, web_port=free_port()))
    with ServerThread(relay, free_port()) as server:
        resp = httpx.get(f"{server.url}/dashboard/data", timeout=30)
    assert resp.status_code == 503 and "cannot reach the worker" in resp.json()["error"]
