"""The dashboard's pure parts: rendering (inline SVG parsed as XML), axis helpers, query checks, summaries."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest

from streams.views.dashboard import (
    Bucket,
    DashboardData,
    DashboardQuery,
    ModelSummary,
    build_data,
    build_page,
    count_ticks,
    render_dashboard,
    summarise_labelled,
    time_ticks,
)
from streams.core.schemas import Alert

UTC = dt.timezone.utc
T0 = dt.datetime(2015, 2, 24, 9, 0, tzinfo=UTC)
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
