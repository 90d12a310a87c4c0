"""Worker roles without a broker: the role list, consumer groups, and the watch role's seen-post filter."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from streams.worker.role_names import group_id, is_embedded, parse_roles
from streams.worker.seen_posts import SeenPosts
from streams.core.schemas import ScoredPost


def test_roles_parse_and_pick_their_consumer_group() -> None:
    assert is_embedded(parse_roles("score,store,watch")) and is_embedded(parse_roles(" watch , score,store "))
    assert group_id("bp", parse_roles("score,store,watch")) == "bp"  # the one-process default keeps its group
    assert group_id("bp", parse_roles("score")) == "bp-score"
    assert group_id("bp", parse_roles("watch,store")) == "bp-store-watch"
    for bad in ("", "score,train", ","):
        with pytest.raises(ValueError, match="roles must be"):
            parse_roles(bad)


def row(i: int, brand: str) -> ScoredPost:
    now = dt.datetime(2015, 2, 20, tzinfo=dt.timezone.utc)
    return ScoredPost(post_id=f"p{i}", brand=brand, platform="twitter", text="t", created_at=now, ingested_at=now,
                      label="neutral", probs={"neutral": 1.0}, confidence=1.0, model_version="m/1")


def test_seen_posts_count_each_post_once_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "seen.json"
    seen = SeenPosts(1000, path)
    first = [row(i, "United" if i % 2 else "Delta") for i in range(10)]
    assert [r.post_id for r in seen.fresh(first + first[:3])] == [r.post_id for r in first]
    path.write_text(seen.snapshot())

    restarted = SeenPosts(1000, path)  # a redelivery after the restart: the last 4 again, plus 2 new
    again = restarted.fresh(first[6:] + [row(10, "United"), row(11, "Delta")])
    assert [r.post_id for r in again] == ["p10", "p11"]
    assert restarted.stats() == {"per_brand": {"United": 6, "Delta": 6}, "duplicates_skipped": 7, "remembered": 12}


def test_seen_posts_memory_is_bounded(tmp_path: Path) -> None:
    seen = SeenPosts(1000, tmp_path / "seen.json")
    seen.fresh([row(i, "United") for i in range(5000)])
    assert seen.stats()["remembered"] == 1000
    assert seen.fresh([row(4999, "United")]) == [] and len(seen.fresh([row(0, "United")])) == 1  # only the oldest forgotten


def test_the_worker_keeps_faust_state_under_its_data_dir(tmp_path: Path) -> None:
    from streams.core.settings import Settings
    from streams.worker.app import create_app

    app = create_app(Settings(data_dir=tmp_path / "state", app_id="bp-roles"))
    assert Path(app.conf.datadir).resolve().is_relative_to((tmp_path / "state").resolve())
