import datetime as dt

import pandas as pd
import pytest

from streams.kafka.replay import paced, rows_to_posts
from streams.views.trends import parse_duration


def test_rows_to_posts_maps_columns_and_rebases_time():
    df = pd.DataFrame(
        {"tweet_id": ["1", "2"], "body": ["@united a", "@jetblue b"], "when": ["2/24/2015 11:35", "2/24/2015 12:35"], "extra": ["x", "y"]}
    )
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    posts = rows_to_posts(df, {"post_id": "tweet_id", "text": "body", "created_at": "when"}, time_format="%m/%d/%Y %H:%M", rebase_to=now)
    assert [p["post_id"] for p in posts] == ["1", "2"]
    assert posts[1]["created_at"] == now and posts[0]["created_at"] == now - dt.timedelta(hours=1)
    assert posts[0]["metadata"] == {"extra": "x"}


def test_rows_to_posts_names_missing_columns():
    with pytest.raises(ValueError, match="not in the file"):
        rows_to_posts(pd.DataFrame({"a": [1]}), {"text": "body"})


def test_rows_without_ids_get_stable_ids():
    df = pd.DataFrame({"text": ["same", "same"]})
    a = rows_to_posts(df, {"text": "text"})
    b = rows_to_posts(df, {"text": "text"})
    assert [p["post_id"] for p in a] == [p["post_id"] for p in b] and a[0]["post_id"] != a[1]["post_id"]


def test_rate_pacing_is_respected():
    posts = [{"post_id": str(i), "created_at": dt.datetime.now(dt.timezone.utc)} for i in range(11)]
    import time

    t = time.monotonic()
    assert len(list(paced(posts, rate=50, speedup=None))) == 11
    assert time.monotonic() - t >= 0.19


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("15m", 900), ("6h", 21600), ("2d", 172800), ("1w", 604800)])
def test_parse_duration(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


def test_parse_duration_rejects_garbage():
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration("six hours")
