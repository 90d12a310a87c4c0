"""The dashboard: pure rendering, data gathering on real chDB, and the page in real headless Chromium."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.core.brand_rules import BrandResolver
from streams.store.clickhouse import ClickHouseStore
from streams.services.dashboard import create_dashboard_app
from streams.views.dashboard import (
    Bucket,
    DashboardData,
    DashboardQuery,
    ModelSummary,
    build_data,
    build_page,
    count_ticks,
    fit_window,
    gather_dashboard,
    render_dashboard,
    summarise_labelled,
    time_ticks,
)
from streams.core.schemas import Alert, HumanLabel, LabelRequest, ScoredPost
from streams.core.settings import Settings
from tests.conftest import free_port

UTC = dt.timezone.utc
T0 = dt.datetime(2015, 2, 24, 9, 0, tzinfo=UTC)  # data window: 09:00-12:00
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / ".artifacts"

SVG_NS = "{http://www.w3.org/2000/svg}"


def svgs(page: str) -> list[ET.Element]:
    """Every inline SVG of the page, parsed as XML (so each must be well-formed)."""
    return [ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", page, flags=re.S)]


def sample_data(**overrides) -> DashboardData:  # type: ignore[no-untyped-def]
    buckets = [
        Bucket(start=T0 + dt.timedelta(hours=h), posts=p, negative=n, neutral=u, positive=p - n - u,
               negative_share=n / p if p else 0.0, mean_confidence=c)
        for h, (p, n, u, c) in enumerate([(40, 8, 12, 0.83), (50, 10, 0, 0.81), (60, 42, 10, 0.71)])
    ]
    alerts = [
        Alert(alert_id="a1", kind="label_drift", detector="label_mix", statistic=0.31, threshold=0.1, brand="United",
              model_version="m/1", message="negative rose", detected_at=T0 + dt.timedelta(hours=5), since=T0 + dt.timedelta(hours=2, minutes=10)),
        Alert(alert_id="a2", kind="confidence_drift", detector="adwin", statistic=-0.1, threshold=0.05, brand=None,
              model_version="m/1", message="<script>alert(1)</script> & more", detected_at=T0 + dt.timedelta(hours=2, minutes=40)),
    ]
    fields = dict(
        query=DashboardQuery(brand="United", since="3h", until="latest"),
        brands=["Delta", "United"],
        start=T0,
        end=T0 + dt.timedelta(hours=3),
        bucket="1h",
        buckets=buckets,
        alerts=alerts,
        models=[ModelSummary(role="champion", version="m/1", labelled=20, accuracy=0.8, macro_f1=0.78, negative_recall=0.9),
                ModelSummary(role="challenger", version="m/2")],
        label_queue=6,
        newest=T0 + dt.timedelta(hours=2, minutes=59),
    )
    fields.update(overrides)
    return DashboardData(**fields)


# ------------------------------------------------------------------ pure


def test_render_draws_bars_share_line_and_alert_markers() -> None:
    page = render_dashboard(sample_data())
    chart, conf = svgs(page)
    bars = chart.findall(f".//{SVG_NS}rect[@class]")
    # 3 buckets × 3 labels, minus the one empty neutral segment
    assert sorted(b.get("class") for b in bars).count("bar bar-negative") == 3
    assert len([b for b in bars if b.get("class", "").startswith("bar ")]) == 8
    neg_heights = [float(b.get("height")) for b in bars if b.get("class") == "bar bar-negative"]
    assert neg_heights[2] > neg_heights[1] > 0  # 42 vs 10 negative posts, same scale
    share = chart.find(f".//{SVG_NS}path[@class='share-line']")
    assert share is not None and share.get("d", "").count("L") == 2
    markers = chart.findall(f".//{SVG_NS}a[@class='alert-marker']")
    assert [m.get("href") for m in markers] == ["#alert-1", "#alert-2"]
    assert conf.find(f".//{SVG_NS}path[@class='confidence-line']") is not None
    assert conf.findall(f".//{SVG_NS}line[@class='alert-line']")  # confidence alert shown there too
    assert 'id="alert-1"' in page and 'id="alert-2"' in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert '<meta http-equiv="refresh" content="30">' in page
    assert '<option value="United" selected>United</option>' in page
    assert "m/2" in page and "80.0%" in page and ">6<" in page


def test_render_handles_an_empty_window_and_no_refresh() -> None:
    page = render_dashboard(sample_data(buckets=[], alerts=[], models=[], query=DashboardQuery(refresh=0)))
    (chart, _conf) = svgs(page)
    assert "No posts in this window" in ET.tostring(chart, encoding="unicode")
    assert "http-equiv" not in page
    assert "No alerts in this window." in page and "No model is serving yet." in page


def test_axis_helpers() -> None:
    assert count_ticks(10) == [0, 2, 4, 6, 8, 10]
    assert count_ticks(42) == [0, 10, 20, 30, 40, 50]
    assert count_ticks(1) == [0, 1] and count_ticks(0) == [0, 1]
    assert count_ticks(2400) == [0, 500, 1000, 1500, 2000, 2500]
    ticks = time_ticks(T0, T0 + dt.timedelta(hours=6))
    assert ticks[0] == T0 and len(ticks) <= 8 and all(b - a == ticks[1] - ticks[0] for a, b in zip(ticks, ticks[1:]))


def test_query_parameters_are_validated_with_clear_messages() -> None:
    assert DashboardQuery.from_params({"since": "6h"}).resolved_bucket() == "5m"
    assert DashboardQuery.from_params({"since": "7d"}).resolved_bucket() == "3h"
    assert DashboardQuery.from_params({"since": "30d"}).resolved_bucket() == "12h"
    assert DashboardQuery.from_params({"brand": "", "bucket": ""}).brand is None
    for params, fragment in [
        ({"since": "six hours"}, "bad duration"),
        ({"bucket": "30s"}, "whole number of minutes"),
        ({"until": "yesterday"}, "bad until 'yesterday': use now, latest or an ISO time"),
        ({"since": "9" * 40 + "d"}, "bad duration"),
        ({"since": "400d"}, "longer than 366 days"),
        ({"until": "0001-01-01T00:00"}, "years 2000-2999"),
        ({"brand": "x" * 200}, "brand"),
        ({"refresh": "-1"}, "refresh"),
    ]:
        with pytest.raises(ValueError, match=fragment):
            DashboardQuery.from_params(params)
    status, page = build_page({"since": "soon"}, lambda q: pytest.fail("must not load"))
    assert status == 400 and "bad duration" in page

    def down(q: DashboardQuery) -> DashboardData:
        raise ConnectionError("connection refused")

    status, body = build_data({}, down)
    assert status == 503 and "connection refused" in body["error"]


def test_labelled_summary() -> None:
    s = summarise_labelled("champion", "m/1", [("negative", "negative", 6), ("positive", "negative", 2), ("positive", "positive", 2)])
    assert s.labelled == 10 and s.accuracy == pytest.approx(0.8) and s.negative_recall == pytest.approx(0.75)
    assert summarise_labelled("challenger", "m/2", []).accuracy is None


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


class ServerThread:
    def __init__(self, app, port: int) -> None:  # type: ignore[no-untyped-def]
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "dashboard server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def chromium(url: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         f"--user-data-dir={tmp}", "--window-size=1280,1400", *args, url],
        capture_output=True, text=True, timeout=120,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_dashboard_page_in_headless_chromium(store: ClickHouseStore, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    app = create_dashboard_app(settings, store=store, served=lambda: {"champion": "m/1", "challenger": "m/2"})
    with ServerThread(app, free_port()) as server:
        url = f"{server.url}/dashboard?brand=United&since=3h&until=latest&refresh=0"
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert resp.status == 200 and resp.headers["content-type"].startswith("text/html")
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
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{server.url}/dashboard?since=forever", timeout=30)
        assert err.value.code == 400 and "bad duration" in err.value.read().decode()
        with urllib.request.urlopen(f"{server.url}/dashboard/data?brand=Delta&since=3h", timeout=30) as resp:
            data = json.loads(resp.read())
        assert data["query"]["brand"] == "Delta" and sum(b["posts"] for b in data["buckets"]) == 180
